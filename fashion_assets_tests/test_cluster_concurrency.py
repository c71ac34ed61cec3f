"""The cluster mode against a real PostgreSQL (started by make cluster-up's code), with real
concurrent processes: writers of different partitions of one table both commit, a writer killed
at random points leaves old or new rows (never none, never half) while the other commits on, and
two trainings registering at once give two versions and one champion. The same writers in the
embedded mode show what one writer at a time costs there."""

import os
import random
import subprocess
import sys
import time


from fashion_assets.core.common import warehouse
from fashion_assets.storage import MODE_ENV, storage_for
from fashion_assets_tests import REPO

ROWS = 20_000  # enough that a commit takes a while: kills land inside writes too


def _worker(root, mode: str, *args) -> subprocess.Popen:
    env = {**os.environ, MODE_ENV: mode, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "fashion_assets_tests.cluster_workers", *map(str, args)], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _slices(root, mode: str) -> dict:
    """partition -> (rows, distinct versions, min version) as a reader sees them now."""
    try:
        with warehouse.connect(storage_for(root, mode).warehouse, wait_seconds=60) as conn:
            rows = conn.execute("SELECT partition, count(*), count(DISTINCT version), min(version) FROM fashion.slices "
                                "GROUP BY partition").fetchall()
    except Exception as exc:  # noqa: BLE001 - the table's first commit may not have happened yet
        if "does not exist" in str(exc):
            return {}
        raise
    return {p: (n, versions, low) for p, n, versions, low in rows}


def test_a_killed_writer_leaves_old_or_new_rows_while_another_partition_commits(cluster_root):
    other = _worker(cluster_root, "cluster", "slices", cluster_root, "b", 0, ROWS)  # until stopped
    rng, seen, kills = random.Random(3), [], 0
    while kills < 4:
        victim = _worker(cluster_root, "cluster", "slices", cluster_root, "a", 0, ROWS)
        time.sleep(rng.uniform(4.0, 9.0))  # imports take ~3 s: the kill lands anywhere in a write loop
        victim.kill()
        victim.wait()
        kills += 1
        seen.append(_slices(cluster_root, "cluster"))
        assert other.poll() is None, other.communicate()[0][-3000:]  # the other writer unaffected
    other.kill()
    committed = [int(line.split()[1]) for line in other.communicate(timeout=120)[0].splitlines()
                 if line.startswith("committed ")]
    assert len(committed) >= 5, "the other writer made no progress while the first was being killed"
    for state in seen:  # each partition whole, from one write: never empty once written, never half
        for partition, (rows, versions, _) in state.items():
            assert (rows, versions) == (ROWS, 1), (partition, state)
    assert any("a" in s for s in seen), "the killed writer never committed: the kills came too early to test anything"
    final = _slices(cluster_root, "cluster")
    assert final["b"][:2] == (ROWS, 1) and final["b"][2] >= committed[-1]  # its last commit stands
    assert final["a"][:2] == (ROWS, 1)


def test_writers_of_four_partitions_at_once_all_commit(cluster_root):
    """Both modes, the same four writers at once: all succeed; the cluster's are told apart by their
    retries (conflicting replacements of one table, redone), the embedded ones take turns on the lock."""
    for mode, root in (("cluster", cluster_root), ("embedded", cluster_root / "embedded")):
        root.mkdir(exist_ok=True)
        start = time.monotonic()
        writers = [_worker(root, mode, "slices", root, p, 3, 5000) for p in "abcd"]
        outputs = [w.communicate(timeout=600)[0] for w in writers]
        took = time.monotonic() - start
        assert [w.returncode for w in writers] == [0] * 4, outputs
        state = _slices(root, mode)
        assert {p: state[p] for p in "abcd"} == {p: (5000, 1, 2) for p in "abcd"}
        retries = sum(int(o.rsplit("retries ", 1)[1].split()[0]) for o in outputs)
        print(f"{mode}: four writers × 3 commits in {took:.1f} s, {retries} commit retries")


def test_two_trainings_registering_at_once_give_two_versions_and_one_champion(cluster_root):
    from fashion_assets.core.registry import Registry

    start_at = time.time() + 12  # both connected and waiting by then
    writers = [_worker(cluster_root, "cluster", "register", cluster_root, "concurrent_model", start_at) for _ in range(2)]
    outputs = [w.communicate(timeout=300)[0] for w in writers]
    assert [w.returncode for w in writers] == [0, 0], outputs
    registered = sorted(int(o.rsplit("version ", 1)[1].split()[0]) for o in outputs)
    assert registered == [1, 2]
    registry = Registry(cluster_root / "mlflow", storage_for(cluster_root, "cluster").tracking_uri)
    versions = registry.versions("concurrent_model")
    assert sorted(v.version for v in versions) == [1, 2]
    champions = [v.version for v in versions if "champion" in v.aliases]
    assert len(champions) == 1 and registry.champion("concurrent_model").version == champions[0]
    assert all(v.checkpoint.read_bytes().startswith(b"not a real model") for v in versions)
