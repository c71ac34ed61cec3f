"""Benchmark: how long after new survey files land do the predictions show them?

On a full-scale demo data root (generated, then materialized once with configs/demo.yaml when
its warehouse is absent), for N new validation answers (copies of existing answers under new
survey IDs, so they join images that have features):
  1. one tick of raw_data_sensor, in this process (as the daemon's long-lived code server runs
     it): it lists and fingerprints the folders, records the new data version of raw_labels,
     keeps the listing for the run and requests one run of what follows from it,
  2. that run, created and launched as the daemon does: through the instance's run launcher,
     the project's PreloadedRunLauncher (dagster.yaml), whose fork server was started by the
     first run of the benchmark (as by the first run after the daemon starts),
and time from the end of 1 (the run request in hand) to the new rows committed in
preference_predictions (its materialization event) — the sensor's tick aside, the run's creation
and launch included — and to the end of the run. The same is then done as a full recompute
(every label file parsed again, the preference model refitted, every answer scored), and the
incremental run once more in a fresh Python process (benchmarks/run_request.py: what Dagster's
default launcher costs). All in one benchmark run, on the same files, in --repeat rounds per N
(the machine's speed drifts by 10-20% between minutes): medians and per-round ratios are reported.

With --through-daemon it measures instead what a user waits for end to end: a real daemon with
raw_data_sensor on, files landed → rows committed, and the CPU the idle ticks cost
(benchmarks/daemon_latency.py; writes benchmarks/results/survey_refresh_daemon.json).

Usage: python benchmarks/survey_refresh.py [--root benchmarks/work/full] [--new 20,100] [--repeat 3] [--through-daemon]
Writes benchmarks/results/survey_refresh.json.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

HERE = Path(__file__).resolve().parent


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--root", default=str(HERE / "work" / "full"))
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--new", default="20,100")
    p.add_argument("--repeat", type=int, default=3, help="rounds of the three measurements per N (medians reported)")
    p.add_argument("--through-daemon", action="store_true", help="end to end through a real daemon (see above)")
    p.add_argument("--idle", type=float, default=60, help="with --through-daemon: seconds the idle cost is sampled")
    a = p.parse_args()
    root = Path(a.root).resolve()
    os.environ["FASHION_ASSETS_DATA_ROOT"] = str(root)
    os.environ["DAGSTER_HOME"] = str(root / "dagster_home")
    (root / "dagster_home").mkdir(parents=True, exist_ok=True)
    if not (root / "dagster_home" / "dagster.yaml").exists():  # the project's instance settings, as `make home`
        shutil.copy(HERE.parent / "dagster.yaml", root / "dagster_home" / "dagster.yaml")
    from fashion_assets.demo_data.writer import GeneratorConfig, generate
    from fashion_assets.definitions import build_definitions
    from fashion_assets.runs.launcher import PreloadedRunLauncher, create_run

    defs = build_definitions(root)
    result = {"machine": machine_info(), "scale": a.scale, "runs": []}
    if not (root / "raw").exists():
        generate(root / "raw", GeneratorConfig(scale=a.scale, seed=0), log=print)
    with dg.DagsterInstance.get() as instance:
        sensor = defs.resolve_sensor_def("raw_data_sensor")
        state = {"cursor": None}

        def tick():
            """The sensor's ticks until a change has settled (the second look finds the listing
            unchanged), with its observations recorded: the run it requests (or None)."""
            for _ in range(2):
                data = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs,
                                                                    cursor=state["cursor"],
                                                                    resources={"data_root": defs.resources["data_root"]}))
                state["cursor"] = data.cursor
                if data.run_requests or "settling" not in (data.skip_message or ""):
                    break
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

        assert isinstance(instance.run_launcher, PreloadedRunLauncher), "dagster.yaml should set the project's launcher"
        result["launcher_preload"] = instance.run_launcher.preload

        def run_launched(request, config=None) -> tuple[dict, float, float]:
            """The request run as the daemon runs it: created, then launched by the instance's run
            launcher; (its report, wall clock before creating it, seconds to its end)."""
            created, t0 = time.time(), time.perf_counter()
            run = create_run(instance, "fashion_assets.definitions", "__ASSET_JOB", request.asset_selection,
                             request.tags, config)
            instance.launch_run(run.run_id, workspace=None)
            while not (run := instance.get_run_by_id(run.run_id)).is_finished:
                time.sleep(0.25)  # the times are the run's event timestamps; polling less leaves the CPUs to the run
            if run.status != dg.DagsterRunStatus.SUCCESS:
                raise RuntimeError(f"the run {run.run_id} ended {run.status}")
            return {"run_id": run.run_id, "heavy_modules_loaded": None}, created, time.perf_counter() - t0

        def tick_and_run(config=None):
            request = tick()
            if request is not None:
                run_launched(request, config)

        if not (root / "warehouse.duckdb").exists():
            import yaml
            config = yaml.safe_load((HERE.parent / "configs" / "demo.yaml").read_text())
            t0 = time.perf_counter()
            assert defs.resolve_job_def("full_pipeline_job").execute_in_process(instance=instance, run_config=config).success
            result["first_full_pipeline_seconds"] = round(time.perf_counter() - t0, 1)
        if a.through_daemon:
            from daemon_latency import measure

            result.update(measure(root, defs, list(map(int, a.new.split(","))), a.repeat, a.idle))
            (HERE / "results" / "survey_refresh_daemon.json").write_text(json.dumps(result, indent=2) + "\n")
            print(json.dumps({k: result[k] for k in ("median_seconds_landed_to_rows", "max_seconds_landed_to_rows",
                                                     "idle")}))
            return 0
        tick_and_run()  # the first tick records the folders as they are (and refreshes if they changed)
        instance.run_launcher.warm()  # as after the daemon's first run: the fork server is up
        valid = defs.load_asset_value("valid_labels")
        sources = list(valid[valid.split == "Validation"].file_name)
        folder = root / "raw" / "validation_label"
        added = []
        try:
            for n, round_ in ((n, r) for n in map(int, a.new.split(",")) for r in range(a.repeat)):
                for mode, launch in (("incremental", run_launched), ("full recompute", run_launched),
                                     ("incremental, fresh process", run_fresh)):
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
                    report, spawned, run_seconds = launch(request, config)
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
                        elif event.event_type == dg.DagsterEventType.RUN_STARTING:
                            at["launch"] = e.timestamp
                        elif event.event_type in (dg.DagsterEventType.RUN_START, dg.DagsterEventType.RUN_SUCCESS):
                            at["run start" if event.event_type == dg.DagsterEventType.RUN_START else "run end"] = e.timestamp
                    row = {"new_answers": n, "round": round_ + 1, "mode": mode,
                           "seconds_to_new_predictions": round(tick_seconds + at["preference_predictions"] - spawned, 2),
                           "seconds_to_run_end": round(tick_seconds + at["run end"] - spawned, 2),
                           "tick_seconds": round(tick_seconds, 2),
                           "launcher": "fresh process" if launch is run_fresh else "PreloadedRunLauncher",
                           "seconds_to_run_start": round(at["run start"] - spawned, 2),
                           # From the launch (the run created: in Dagster's sensor daemon, part of the tick).
                           **({"seconds_launch_to_new_predictions": round(at["preference_predictions"] - at["launch"], 2)}
                              if "launch" in at else {}),
                           **({"heavy_modules_loaded_by_the_run": report["heavy_modules_loaded"]}
                              if report["heavy_modules_loaded"] is not None else {}),
                           "assets_run": sorted(k.to_user_string() for k in request.asset_selection),
                           "step_seconds": {k: round(v[-1] - v[0], 2) for k, v in steps.items()}}
                    result["runs"].append(row)
                    print(json.dumps(row), flush=True)
        finally:  # back to the data root's own files, and its tables to match them
            for path in added:
                path.unlink(missing_ok=True)
            tick_and_run()
    ns = sorted({r["new_answers"] for r in result["runs"]})
    modes = ("incremental", "full recompute", "incremental, fresh process")

    def median(key, n, mode) -> float:
        return float(np.median([key(r) for r in result["runs"] if r["new_answers"] == n and r["mode"] == mode]))

    # The measure leaves the sensor's tick aside: from the run request to the new rows.
    aside = lambda r: r["seconds_to_new_predictions"] - r["tick_seconds"]  # noqa: E731
    result["seconds_tick_aside"] = {str(n): {m: [round(aside(r), 2) for r in result["runs"] if r["new_answers"] == n
                                                and r["mode"] == m] for m in modes} for n in ns}
    result["median_seconds_tick_aside"] = {str(n): {m: round(median(aside, n, m), 2) for m in modes} for n in ns}
    result["speedup_tick_aside"] = {str(n): round(median(aside, n, "full recompute") / median(aside, n, "incremental"), 1)
                                    for n in ns}
    result["speedup_tick_aside_per_round"] = {
        str(n): [round(aside(f) / aside(i), 1) for i, f in zip(*[[r for r in result["runs"] if r["new_answers"] == n
                                                                  and r["mode"] == m] for m in modes[:2]])] for n in ns}
    result["fresh_process_over_preloaded"] = {
        str(n): round(median(aside, n, "incremental, fresh process") / median(aside, n, "incremental"), 1) for n in ns}
    # The same from the run's launch: its creation (13 planned events, 0.25 s) counted with the
    # tick, as Dagster's sensor daemon creates a tick's runs while processing the tick.
    launched = lambda r: r["seconds_launch_to_new_predictions"]  # noqa: E731
    result["median_seconds_from_launch"] = {str(n): {m: round(median(launched, n, m), 2) for m in modes[:2]} for n in ns}
    result["speedup_from_launch"] = {str(n): round(median(launched, n, "full recompute") / median(launched, n, "incremental"), 1)
                                     for n in ns}
    with_tick = lambda r: r["seconds_to_new_predictions"]  # noqa: E731
    result["speedup_with_tick"] = {str(n): round(median(with_tick, n, "full recompute") / median(with_tick, n, "incremental"), 1)
                                   for n in ns}
    result["protocol"] = ("tick in the benchmark's process; the run created and launched as the daemon does, through "
                          "PreloadedRunLauncher (dagster.yaml), or in a fresh process (benchmarks/run_request.py); "
                          "seconds_to_new_predictions = tick + run request to preference_predictions' materialization "
                          "event; each N measured in --repeat rounds of (incremental, full recompute, fresh process); "
                          "speedups are ratios of medians, and per round")
    (HERE / "results" / "survey_refresh.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("median_seconds_tick_aside", "speedup_tick_aside",
                                             "speedup_tick_aside_per_round", "fresh_process_over_preloaded",
                                             "median_seconds_from_launch", "speedup_from_launch")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
