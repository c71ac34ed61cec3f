"""Benchmark: how long after new survey files land do the predictions show them?

On a full-scale demo data root (generated, then materialized once with configs/demo.yaml when
its warehouse is absent), for N new validation answers (copies of existing answers under new
survey IDs, so they join images that have features):
  1. one tick of raw_data_sensor, in this process (as the daemon's long-lived code server runs
     it): it lists and fingerprints the folders, records the new data version of raw_labels,
     keeps the listing for the run and requests one run of what follows from it,
  2. that run in a fresh Python process, as the daemon launches one (benchmarks/run_request.py:
     import the definitions, execute the requested assets in-process with the request's tags),
and time from 1 to the new rows committed in preference_predictions (its materialization event)
— the sensor's tick interval aside — and to the end of the run (metrics and report after the
rows). The same is then done as a full recompute (every label file parsed again, the preference
model refitted, every answer scored). Both in one benchmark run, on the same files.

Usage: python benchmarks/survey_refresh.py [--root benchmarks/work/full] [--new 20,100]
Writes benchmarks/results/survey_refresh.json.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

HERE = Path(__file__).resolve().parent


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--root", default=str(HERE / "work" / "full"))
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--new", default="20,100")
    a = p.parse_args()
    root = Path(a.root)
    os.environ["FASHION_ASSETS_DATA_ROOT"] = str(root)
    os.environ["DAGSTER_HOME"] = str(root / "dagster_home")
    (root / "dagster_home").mkdir(parents=True, exist_ok=True)
    from fashion_assets.core.datagen.writer import GeneratorConfig, generate
    from fashion_assets.definitions import build_definitions

    defs = build_definitions(root)
    result = {"machine": machine_info(), "scale": a.scale, "runs": []}
    if not (root / "raw").exists():
        generate(root / "raw", GeneratorConfig(scale=a.scale, seed=0), log=print)
    with dg.DagsterInstance.get() as instance:
        sensor = defs.resolve_sensor_def("raw_data_sensor")
        state = {"cursor": None}

        def tick():
            """One sensor tick with its observations recorded: the run it requests (or None)."""
            data = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs, cursor=state["cursor"],
                                                                resources={"data_root": defs.resources["data_root"]}))
            state["cursor"] = data.cursor
            for event in data.asset_events:
                instance.report_runless_asset_event(event)
            return data.run_requests[0] if data.run_requests else None

        def run_fresh(request, config=None) -> tuple[dict, float, float]:
            """The request run in a fresh process: (its report, wall clock at spawn, seconds)."""
            spawned, t0 = time.time(), time.perf_counter()
            args = {"selection": [k.to_user_string() for k in request.asset_selection], "tags": request.tags,
                    "config": config}
            out = subprocess.run([sys.executable, str(HERE / "run_request.py"), json.dumps(args)], env=os.environ,
                                 capture_output=True, text=True)
            if out.returncode:
                raise RuntimeError(f"the run failed:\n{out.stderr[-3000:]}")
            return json.loads(out.stdout.strip().splitlines()[-1]), spawned, time.perf_counter() - t0

        def tick_and_run(config=None):
            request = tick()
            if request is not None:
                run_fresh(request, config)

        if not (root / "warehouse.duckdb").exists():
            import yaml
            config = yaml.safe_load((HERE.parent / "configs" / "demo.yaml").read_text())
            t0 = time.perf_counter()
            assert defs.resolve_job_def("full_pipeline_job").execute_in_process(instance=instance, run_config=config).success
            result["first_full_pipeline_seconds"] = round(time.perf_counter() - t0, 1)
        tick_and_run()  # the first tick records the folders as they are (and refreshes if they changed)
        valid = defs.load_asset_value("valid_labels")
        sources = list(valid[valid.split == "Validation"].file_name)
        folder = root / "raw" / "validation_label"
        added = []
        try:
            for n in map(int, a.new.split(",")):
                for mode in ("incremental", "full recompute"):
                    new = [folder / name.replace(".json", f"{len(added) + k}77.json") for k, name in enumerate(sources[:n])]
                    for src, dst in zip(sources, new):
                        dst.write_bytes((folder / src).read_bytes())
                        # Landed and settled (the sensor's settle time is part of its tick, set aside here).
                        os.utime(dst, (time.time() - 60, time.time() - 60))
                    added += new
                    before = len(defs.load_asset_value("preference_predictions"))
                    if mode == "full recompute":  # nothing reused: every file parsed, the model refitted
                        (root / "artifacts" / "preference_model" / "handle.json").unlink()
                    t0 = time.perf_counter()
                    request = tick()
                    tick_seconds = time.perf_counter() - t0
                    config = {"ops": {"label_files": {"config": {"full_reparse": mode == "full recompute"}}}}
                    report, spawned, run_seconds = run_fresh(request, config)
                    after = len(defs.load_asset_value("preference_predictions"))
                    assert after == before + n, (before, after)
                    at = {}
                    steps = {}
                    for e in instance.all_logs(report["run_id"]):
                        event = e.dagster_event
                        if event is None:
                            continue
                        if event.event_type in (dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS):
                            steps.setdefault(e.step_key, []).append(e.timestamp)
                        elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
                            at[event.asset_key.to_user_string()] = e.timestamp
                        elif event.event_type == dg.DagsterEventType.RUN_START:
                            at["run start"] = e.timestamp
                    row = {"new_answers": n, "mode": mode,
                           "seconds_to_new_predictions": round(tick_seconds + at["preference_predictions"] - spawned, 2),
                           "seconds_to_run_end": round(tick_seconds + run_seconds, 2),
                           "tick_seconds": round(tick_seconds, 2),
                           "process_start_seconds": round(at["run start"] - spawned, 2),
                           "heavy_modules_loaded_by_the_run": report["heavy_modules_loaded"],
                           "assets_run": sorted(k.to_user_string() for k in request.asset_selection),
                           "step_seconds": {k: round(v[-1] - v[0], 2) for k, v in steps.items()}}
                    result["runs"].append(row)
                    print(json.dumps(row), flush=True)
        finally:  # back to the data root's own files, and its tables to match them
            for path in added:
                path.unlink(missing_ok=True)
            tick_and_run()
    by = {(r["new_answers"], r["mode"]): r["seconds_to_new_predictions"] for r in result["runs"]}
    result["speedup"] = {str(n): round(by[(n, "full recompute")] / by[(n, "incremental")], 1)
                         for n in sorted({r["new_answers"] for r in result["runs"]})}
    # The measure leaves the sensor's tick aside: from the run's spawn to the new rows.
    aside = {(r["new_answers"], r["mode"]): r["seconds_to_new_predictions"] - r["tick_seconds"] for r in result["runs"]}
    result["speedup_tick_aside"] = {str(n): round(aside[(n, "full recompute")] / aside[(n, "incremental")], 1)
                                    for n in sorted({r["new_answers"] for r in result["runs"]})}
    result["protocol"] = ("tick in the benchmark's process; the run in a fresh process (benchmarks/run_request.py); "
                          "seconds_to_new_predictions = tick + spawn to preference_predictions' materialization event")
    (HERE / "results" / "survey_refresh.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"speedup": result["speedup"], "tick aside": result["speedup_tick_aside"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
