"""Benchmark: what the cluster mode buys — the image stage's partitions as concurrent runs.

One demo dataset (``--scale``, default 0.3) is copied byte for byte into fresh data roots. In each,
the tables are built, then the image stage's segmentation (``segmentation_job``: one run per
split × shard, 8 partitions) is launched as a backfill through a real ``dagster-daemon``'s queue,
at most N runs at a time (the queue's ``max_concurrent_runs``):

- embedded mode, N = 1 and N = 4 (the DuckDB file: one writer at a time, the others wait their turn)
- cluster mode (PostgreSQL + DuckLake, a server per root started by make cluster-up's code), N = 1, 2, 4

and, as the reference, the embedded mode's single run of all 8 partitions. Per case: wall time
from launch to the last run's end, the runs' summed durations, lock waits (the warehouse's
"waiting for its turn" lines and the seconds they name), commit retries (the outputs'
``commit_retries``), and whether ``segmented_images`` equals the reference (EXCEPT ALL both ways,
timings left out). Segmentation uses GrabCut (``U2NET_HOME`` set to an empty folder) unless
``--model-home`` names rembg's: the figure is the storage's cost, not the segmenter's speed.

Usage: python benchmarks/parallel_partitions.py [--scale 0.3]. Writes benchmarks/results/parallel_partitions.json.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

import dagster as dg  # noqa: E402

from fashion_assets.assets.images import image_partitions  # noqa: E402
from fashion_assets.cli import cluster  # noqa: E402
from fashion_assets.core.common import warehouse  # noqa: E402
from fashion_assets.demo_data.writer import GeneratorConfig, generate  # noqa: E402
from fashion_assets.storage import MODE_ENV, storage_for  # noqa: E402
from fashion_assets_tests import running_daemon  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BIN = Path(sys.executable).parent
WAITED = re.compile(r"got its turn after ([0-9.]+) s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(root: Path, raw: Path, mode: str, concurrent: int) -> dict:
    """A fresh data root over a copy of ``raw``, its instance allowing ``concurrent`` runs at once."""
    shutil.copytree(raw, root / "raw")
    if mode == "cluster":
        cluster.up(root, port=free_port(), install=True)
        home = cluster.dagster_home(root)
    else:
        home = root / "dagster_home"
        home.mkdir()
        shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    text = (home / "dagster.yaml").read_text()
    assert "\nconcurrency:\n" in text
    (home / "dagster.yaml").write_text(text.replace("\nconcurrency:\n",
                                                    f"\nconcurrency:\n  runs:\n    max_concurrent_runs: {concurrent}\n"))
    return {**os.environ, MODE_ENV: mode, "FASHION_ASSETS_DATA_ROOT": str(root), "DAGSTER_HOME": str(home),
            "PYTHONUNBUFFERED": "1"}


def dagster(env: dict, *args: str) -> None:
    done = subprocess.run([str(BIN / "dagster"), *args, "-m", "fashion_assets.definitions"], env=env, cwd=REPO,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit((done.stdout + done.stderr)[-3000:])


def through_the_queue(root: Path, env: dict) -> dict:
    """The 8 partitions as a backfill through a real daemon; what it took."""
    partitions = image_partitions.get_partition_keys()
    dagster(env, "job", "execute", "-j", "tables_job")
    with running_daemon(env, root / "daemon.log"):
        time.sleep(5)  # the daemon up (its first dequeue starts the launcher's fork server)
        launched = time.time()
        dagster(env, "job", "backfill", "-j", "segmentation_job", "--partitions", ",".join(partitions), "--noprompt")
        with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            while True:
                runs = [r for r in instance.get_run_records(dg.RunsFilter(job_name="segmentation_job"))]
                if len(runs) == len(partitions) and all(r.dagster_run.is_finished for r in runs):
                    break
                time.sleep(0.5)
            ended = max(r.end_time for r in runs)
            messages = [e.message or "" for r in runs for e in instance.all_logs(r.dagster_run.run_id)]
            retries = sum(int(e.asset_materialization.metadata.get("commit_retries", dg.IntMetadataValue(0)).value)
                          for r in runs for e in instance.all_logs(r.dagster_run.run_id)
                          if e.is_dagster_event and e.dagster_event.is_step_materialization)
            statuses = sorted({r.dagster_run.status.value for r in runs})
            durations = [r.end_time - r.start_time for r in runs]
    waits = [float(m) for text in messages for m in WAITED.findall(text)]
    return {"wall_s": round(ended - launched, 1), "summed_run_s": round(sum(durations), 1),
            "per_partition_s": round(sum(durations) / len(durations), 1), "statuses": statuses,
            "lock_waits": len(waits), "lock_wait_s": round(sum(waits), 1), "commit_retries": retries}


def single_run(root: Path, env: dict) -> dict:
    """The embedded mode's one run of every partition (the reference), in this process."""
    from fashion_assets.assets.images import IMAGE_RUN_TAGS
    from fashion_assets.definitions import build_definitions

    dagster(env, "job", "execute", "-j", "tables_job")
    defs = build_definitions(root)
    start = time.monotonic()
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        assert defs.resolve_job_def("segmentation_job").execute_in_process(instance=instance, tags=IMAGE_RUN_TAGS).success
    return {"wall_s": round(time.monotonic() - start, 1)}


def differences(root: Path, mode: str, reference: Path) -> tuple[int, int]:
    with warehouse.connect(storage_for(root, mode).warehouse) as conn:
        conn.execute(f"ATTACH '{reference / 'warehouse.duckdb'}' AS ref (READ_ONLY)")
        columns = [c for c, in conn.execute("SELECT column_name FROM information_schema.columns WHERE table_catalog = 'ref' "
                                            "AND table_schema = 'fashion' AND table_name = 'segmented_images' "
                                            "AND column_name <> 'seconds' ORDER BY ordinal_position").fetchall()]

        def select(table, base):
            return "SELECT " + ", ".join(f"replace(CAST(\"{c}\" AS VARCHAR), '{base}/', '')" for c in columns) + f" FROM {table}"

        here = select(f"{conn.execute('SELECT current_database()').fetchone()[0]}.fashion.segmented_images", root.resolve())
        there = select("ref.fashion.segmented_images", reference.resolve())
        out = tuple(conn.execute(f"SELECT count(*) FROM ({x} EXCEPT ALL {y})").fetchone()[0] for x, y in ((here, there), (there, here)))
        conn.execute("DETACH ref")
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--scale", type=float, default=0.3)
    p.add_argument("--model-home", default=None, help="rembg's model folder (default: none, i.e. GrabCut)")
    a = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="parallel-partitions-"))
    work.chmod(0o755)  # as root the cluster's server runs as postgres, which must reach its folder
    empty = work / "no-models"
    empty.mkdir()
    os.environ["U2NET_HOME"] = a.model_home or str(empty)
    raw = work / "raw"
    generate(raw, GeneratorConfig(scale=a.scale, seed=0), log=lambda _: None)
    images = sum(1 for _ in (raw / "training_image").iterdir()) + sum(1 for _ in (raw / "validation_image").iterdir())
    results, started = {}, time.time()
    reference = work / "embedded-single"
    env = prepare(reference, raw, "embedded", 1)
    results["embedded, one run of 8 partitions"] = single_run(reference, env)
    print(results, flush=True)
    cases = [("embedded", 1), ("embedded", 4), ("cluster", 1), ("cluster", 2), ("cluster", 4)]
    for mode, n in cases:
        root = work / f"{mode}-{n}"
        env = prepare(root, raw, mode, n)
        case = through_the_queue(root, env)
        case["segmented_images_except_all"] = differences(root, mode, reference)
        results[f"{mode}, 8 partition runs, {n} at a time"] = case
        print(mode, n, case, flush=True)
        if mode == "cluster":
            cluster.down(root)
    one = results["cluster, 8 partition runs, 1 at a time"]["per_partition_s"]
    out = {
        "benchmark": "parallel_partitions", "machine": machine_info(), "scale": a.scale, "images": images,
        "segmenter": "rembg (" + a.model_home + ")" if a.model_home else "GrabCut (no rembg model)",
        "partitions": len(image_partitions.get_partition_keys()), "results": results,
        "projection": {f"{n} nodes": round(one * 8 / min(n, 8), 1) for n in (1, 2, 4, 8)},
        "lock_waits_rule": "waits of 1 s or more (the warehouse logs no shorter wait)",
        "projection_rule": "per-partition time (cluster, one at a time) × partitions / nodes; 8 static shards cap it at 8 nodes",
        "seconds": round(time.time() - started, 1),
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "parallel_partitions.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
