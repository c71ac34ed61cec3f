"""Benchmark: how long after new survey files land do the predictions show them?

On a full-scale demo data root (generated, then materialized once with configs/demo.yaml when
its warehouse is absent), for N new validation answers (copies of existing answers under new
survey IDs, so they join images that have features):
  1. one tick of raw_data_sensor: it fingerprints the folders, records the new data version of
     raw_labels and requests one run of what follows from it,
  2. that run, in-process (the project's executor), as the daemon would launch it,
and time from 1 to the new rows in preference_predictions — the sensor's tick interval aside.
The same is then done as a full recompute (every label file parsed again, the preference model
refitted, every answer scored). Both in one run, on the same files.

Usage: python benchmarks/survey_refresh.py [--root benchmarks/work/full] [--new 20,100]
Writes benchmarks/results/survey_refresh.json.
"""

import argparse
import json
import os
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

        def tick_and_run(config=None):
            """One sensor tick; its observations recorded and its run executed. The run's assets."""
            data = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs, cursor=state["cursor"],
                                                                resources={"data_root": defs.resources["data_root"]}))
            state["cursor"] = data.cursor
            for event in data.asset_events:
                instance.report_runless_asset_event(event)
            for request in data.run_requests:
                run = dg.materialize(list(defs.assets), selection=request.asset_selection, resources=defs.resources,
                                     instance=instance, tags=request.tags, run_config=config)
                assert run.success
                return request.asset_selection, run
            return [], None

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
                    config = {"ops": {"label_files": {"config": {"full_reparse": mode == "full recompute"}}}}
                    selection, run = tick_and_run(config)
                    seconds = time.perf_counter() - t0
                    after = len(defs.load_asset_value("preference_predictions"))
                    assert after == before + n, (before, after)
                    row = {"new_answers": n, "mode": mode, "seconds_to_new_predictions": round(seconds, 2),
                           "assets_run": sorted(k.to_user_string() for k in selection)}
                    steps = {}
                    for e in instance.all_logs(run.run_id):
                        if e.dagster_event and e.dagster_event.event_type in (dg.DagsterEventType.STEP_START,
                                                                              dg.DagsterEventType.STEP_SUCCESS):
                            steps.setdefault(e.step_key, []).append(e.timestamp)
                    row["step_seconds"] = {k: round(v[-1] - v[0], 2) for k, v in steps.items()}
                    result["runs"].append(row)
                    print(json.dumps(row), flush=True)
        finally:  # back to the data root's own files, and its tables to match them
            for path in added:
                path.unlink(missing_ok=True)
            tick_and_run()
    by = {(r["new_answers"], r["mode"]): r["seconds_to_new_predictions"] for r in result["runs"]}
    result["speedup"] = {str(n): round(by[(n, "full recompute")] / by[(n, "incremental")], 1)
                         for n in sorted({r["new_answers"] for r in result["runs"]})}
    (HERE / "results" / "survey_refresh.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["speedup"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
