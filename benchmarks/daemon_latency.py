"""What a user waits for, end to end through the real daemon: survey files landed in a raw folder
→ their answers' rows committed in preference_predictions (``survey_refresh.py --through-daemon``).

A real ``dagster-daemon run`` over the data root's instance (the project's dagster.yaml: run queue,
PreloadedRunLauncher) with raw_data_sensor on. Per round, N new validation answers (copies of
valid answers under new survey IDs, written with the real time) land in validation_label; the
clock runs from the last file written to preference_predictions' materialization by the run the
sensor requested. Between changes the daemon's processes are sampled for the CPU the idle ticks
cost (every 5 s: a stat per folder, a full listing every 30 s).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import numpy as np

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TICKS = 100  # per sensor, looked at after each round


def _cpu_seconds(root_pid: int) -> float:
    """User + system CPU seconds of a process and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    stats: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        # utime, stime and those of its children already waited for (cutime, cstime)
        stats[int(entry)] = sum(int(v) for v in fields[11:15]) / tick
    todo, total = [root_pid], 0.0
    while todo:
        pid = todo.pop()
        total += stats.get(pid, 0.0)
        todo += children.get(pid, [])
    return total


def _machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores, from /proc/stat): an upper bound of
    what the daemon's processes used while this process sleeps."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _sensor_ticks(instance, after: float) -> list:
    from dagster._core.scheduler.instigation import InstigatorType

    states = [s for s in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
              if s.origin.instigator_name == "raw_data_sensor"]
    if not states:
        return []
    return list(reversed(instance.get_ticks(states[0].instigator_origin_id, states[0].selector_id, after=after,
                                            limit=TICKS)))


def _quiet(instance, timeout: float = 1800) -> None:
    """Until no run is queued or running and the sensor's last two ticks found no change."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        busy = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING,
                                                         dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.NOT_STARTED]))
        ticks = _sensor_ticks(instance, time.time() - 30)
        if not busy and len(ticks) >= 2 and all("no change" in (t.skip_reason or "") for t in ticks[-2:]):
            return
        time.sleep(1)
    raise RuntimeError(f"the daemon did not come to rest within {timeout} s")


def _committed_after(instance, after: float, timeout: float = 600):
    """preference_predictions' first materialization after ``after`` (the event log entry)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        event = instance.get_latest_materialization_event(dg.AssetKey("preference_predictions"))
        if event is not None and event.timestamp > after:
            return event
        time.sleep(0.05)
    raise RuntimeError(f"no new rows in preference_predictions within {timeout} s")


def measure(root: Path, defs, new_counts: list[int], repeat: int, idle_seconds: float) -> dict:
    env = {**os.environ, "FASHION_ASSETS_DATA_ROOT": str(root), "DAGSTER_HOME": str(root / "dagster_home")}
    log = open(root / "daemon_latency.log", "w")
    daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-m", "fashion_assets.definitions"], env=env,
                              stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    out: dict = {"rounds": []}
    added: list[Path] = []
    try:
        subprocess.run([str(BIN / "dagster"), "sensor", "start", "raw_data_sensor", "-m", "fashion_assets.definitions"],
                       env=env, check=True, capture_output=True, cwd=REPO)
        with dg.DagsterInstance.from_config(str(root / "dagster_home")) as instance:
            _quiet(instance)
            # The idle cost: the daemon and its processes (code server, fork server) between changes.
            before, busy, t0 = _cpu_seconds(daemon.pid), _machine_busy_seconds(), time.time()
            time.sleep(idle_seconds)
            cpu, wall = _cpu_seconds(daemon.pid) - before, time.time() - t0
            busy = _machine_busy_seconds() - busy
            idle = [t for t in _sensor_ticks(instance, t0) if t.end_timestamp]
            out["idle"] = {"seconds": round(wall, 1), "cpu_seconds": round(cpu, 2), "cores_used": round(cpu / wall, 3),
                           "machine_busy_cores": round(busy / wall, 3),
                           "ticks": len(idle),
                           "tick_wall_seconds": sorted(round(t.end_timestamp - t.timestamp, 2) for t in idle)}
            valid = defs.load_asset_value("valid_labels")
            sources = list(valid[valid.split == "Validation"].file_name)
            folder = root / "raw" / "validation_label"
            for n, round_ in ((n, r) for n in new_counts for r in range(repeat)):
                before_rows = len(defs.load_asset_value("preference_predictions"))
                new = [folder / name.replace(".json", f"{len(added) + k}55.json") for k, name in enumerate(sources[:n])]
                for src, dst in zip(sources, new):
                    dst.write_bytes((folder / src).read_bytes())
                added += new
                landed = time.time()
                event = _committed_after(instance, landed)
                record = instance.get_run_record_by_id(event.run_id)
                while not (run := instance.get_run_by_id(event.run_id)).is_finished:
                    time.sleep(0.2)
                ticks = [t for t in _sensor_ticks(instance, landed - 1) if t.timestamp >= landed]
                first_look = next((t.timestamp for t in ticks if "settling" in (t.skip_reason or "")), None)
                requested = next((t for t in ticks if t.status.value == "SUCCESS"), None)
                row = {"new_answers": n, "round": round_ + 1,
                       "seconds_landed_to_rows": round(event.timestamp - landed, 2),
                       "seconds_to_first_look": round(first_look - landed, 2) if first_look else None,
                       "seconds_to_run_request": round(requested.timestamp - landed, 2) if requested else None,
                       "seconds_to_run_start": round(record.start_time - landed, 2),
                       "seconds_run_start_to_rows": round(event.timestamp - record.start_time, 2),
                       "request_tick_wall_seconds": round(requested.end_timestamp - requested.timestamp, 2)
                       if requested and requested.end_timestamp else None,
                       "run_status": run.status.value, "run_tags_change": run.tags.get("fashion_assets/change"),
                       "rows_added": len(defs.load_asset_value("preference_predictions")) - before_rows}
                out["rounds"].append(row)
                print(row, flush=True)
                _quiet(instance)
            for path in added:  # back to the data root's own files, and its tables to match them
                path.unlink(missing_ok=True)
            time.sleep(2)
            _quiet(instance)
    finally:
        daemon.terminate()
        try:
            daemon.wait(60)
        except subprocess.TimeoutExpired:
            daemon.kill()
        log.close()
    for n in new_counts:
        values = [r["seconds_landed_to_rows"] for r in out["rounds"] if r["new_answers"] == n]
        out.setdefault("median_seconds_landed_to_rows", {})[str(n)] = round(float(np.median(values)), 2)
        out.setdefault("max_seconds_landed_to_rows", {})[str(n)] = round(float(np.max(values)), 2)
    out["protocol"] = ("a real dagster-daemon (the data root's instance, the project's dagster.yaml) with raw_data_sensor "
                       "on; per round N new validation answers written with the real time; seconds from the last file "
                       "written to preference_predictions' materialization event; the idle cost is the CPU of the "
                       "daemon's process tree (daemon, code server, fork server) over idle seconds between changes")
    return out
