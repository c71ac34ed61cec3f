"""The cluster mode with real runs: the image stage's partitions as one run each, launched at once
through the run queue by a real daemon (each run its own process, as a pod would be), and a survey
refresh from the command line beside them — every run succeeds, none waits on a lock, and every
table equals the embedded mode's single run over the same files (EXCEPT ALL = 0 both ways)."""

import os
import shutil
import subprocess
import sys
import time

import dagster as dg

from fashion_assets.assets.images import image_partitions
from fashion_assets.cli import cluster
from fashion_assets.core.common import warehouse
from fashion_assets.definitions import build_definitions
from fashion_assets.storage import MODE_ENV, storage_for
from fashion_assets_tests import REPO

BIN = os.path.dirname(sys.executable)


def _env(root) -> dict:
    return {**os.environ, MODE_ENV: "cluster", "FASHION_ASSETS_DATA_ROOT": str(root),
            "DAGSTER_HOME": str(cluster.dagster_home(root)), "PYTHONUNBUFFERED": "1"}


def _dagster(root, *args, wait=True):
    command = [f"{BIN}/dagster", *args, "-m", "fashion_assets.definitions"]
    if not wait:
        return subprocess.Popen(command, env=_env(root), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    done = subprocess.run(command, env=_env(root), cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return done


TIMINGS = {"seconds"}  # how long an image took: the one column two runs never share


def _differences(root, reference) -> dict:
    """Per table of both: rows in one and not the other, both ways, with the data roots'
    own folders taken out of every text value (the two roots are different folders) and the timings left out."""
    out = {}
    with warehouse.connect(storage_for(root, "cluster").warehouse) as conn:
        conn.execute(f"ATTACH '{reference / 'warehouse.duckdb'}' AS ref (READ_ONLY)")
        try:
            tables = [t for t, in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = "
                                               "'fashion' GROUP BY table_name HAVING count(DISTINCT table_catalog) = 2")
                      .fetchall()]
            for table in tables:
                columns = conn.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_catalog = "
                                       "'ref' AND table_schema = 'fashion' AND table_name = ? ORDER BY ordinal_position",
                                       [table]).fetchall()
                columns = [(c, kind) for c, kind in columns if c not in TIMINGS]

                def select(name, base):
                    shown = [f"replace(\"{c}\", '{base}/', '')" if kind == "VARCHAR" else f'"{c}"' for c, kind in columns]
                    return f"SELECT {', '.join(shown)} FROM {name}"

                a, b = select(f"lake.fashion.{table}", root.resolve()), select(f"ref.fashion.{table}", reference.resolve())
                out[table] = tuple(conn.execute(f"SELECT count(*) FROM ({x} EXCEPT ALL {y})").fetchone()[0]
                                   for x, y in ((a, b), (b, a)))
        finally:
            conn.execute("DETACH ref")
    return out


def test_partition_runs_through_the_queue_and_a_refresh_beside_them_equal_one_embedded_run(cluster_root, tiny_root,
                                                                                          tmp_path):
    root, partitions = cluster_root, image_partitions.get_partition_keys()
    shutil.copytree(tiny_root / "raw", root / "raw")
    _dagster(root, "job", "execute", "-j", "tables_job")  # what the image stage reads
    log = open(tmp_path / "daemon.log", "w")
    daemon = subprocess.Popen([f"{BIN}/dagster-daemon", "run", "-m", "fashion_assets.definitions"], env=_env(root),
                              cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        launched = time.time()
        _dagster(root, "job", "backfill", "-j", "segmentation_job", "--partitions", ",".join(partitions), "--noprompt")
        refresh = _dagster(root, "job", "execute", "-j", "tables_job", wait=False)  # the survey refresh, beside them
        with dg.DagsterInstance.from_config(str(cluster.dagster_home(root))) as instance:
            deadline, runs = time.time() + 600, []
            while time.time() < deadline:
                runs = [r for r in instance.get_run_records(dg.RunsFilter(job_name="segmentation_job"))
                        if r.create_timestamp.timestamp() >= launched - 1]
                if len(runs) == len(partitions) and all(r.dagster_run.is_finished for r in runs):
                    break
                time.sleep(1)
            statuses = {r.dagster_run.tags.get("dagster/partition"): r.dagster_run.status for r in runs}
            spans = sorted((r.start_time - launched, r.end_time - launched) for r in runs if r.end_time)
            logs = "".join(e.message or "" for r in runs for e in instance.all_logs(r.dagster_run.run_id))
        refreshed = refresh.communicate(timeout=600)[0]
    finally:
        daemon.terminate()
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            daemon.kill()
        log.close()
    print(f"partition runs' (start, end), s after launch: {[(round(a, 1), round(b, 1)) for a, b in spans]}")
    assert statuses == {p: dg.DagsterRunStatus.SUCCESS for p in partitions}, (tmp_path / "daemon.log").read_text()[-3000:]
    assert refresh.returncode == 0, refreshed[-4000:]
    assert "Could not set lock" not in logs + refreshed and "waiting for its turn" not in logs + refreshed
    at_once = max(sum(a <= t < b for a, b in spans) for t, _ in spans)
    assert at_once >= 4, spans  # writers at once, not one after another
    # The embedded mode's single run over the same files.
    reference = tmp_path / "reference"
    shutil.copytree(tiny_root / "raw", reference / "raw")
    defs = build_definitions(reference)  # embedded: the test session's mode
    with dg.DagsterInstance.ephemeral() as instance:
        assert defs.resolve_job_def("tables_job").execute_in_process(instance=instance).success
        assert defs.resolve_job_def("images_job").execute_in_process(instance=instance).success
    common = _differences(root, reference)
    assert {"image_table", "label_table", "valid_labels", "segmented_images", "segmentation_quarantine"} <= set(common)
    assert common == {t: (0, 0) for t in common}

