"""Runs that overlap on one data root, as real processes: the daemon's run (raw_data_sensor in a
real ``dagster-daemon``, launched through the project's run launcher), a command-line refresh
(``make refresh-surveys``'s ``dagster asset materialize``) and a second one, started within a
second of each other. Every run succeeds (once one failed on the warehouse's lock), and the
tables equal a single run's over the same files (EXCEPT ALL = 0 both ways). ROUNDS rounds, each
with new survey files (FASHION_ASSETS_OVERLAP_ROUNDS sets how many; ten in a row were run)."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from fashion_assets.assets.sources import observe_raw
from fashion_assets.definitions import build_definitions
from fashion_assets.resources import DataRootResource
from fashion_assets.sensors import DATA_VERSION_TAG, FOLLOWING
from fashion_assets_tests import running_daemon

ROUNDS = int(os.environ.get("FASHION_ASSETS_OVERLAP_ROUNDS", "3"))
REPO = Path(__file__).resolve().parents[1]
SELECTION = ",".join(k.to_user_string() for k in FOLLOWING["raw_labels"])
TABLES = ["label_table", "label_quarantine", "valid_labels", "leakage_report", "user_preferences",
          "preference_predictions", "preference_metrics"]
CONFIG = {"ops": {"style_classifier": {"config": {"image_size": 32, "epochs": 2, "samples_per_epoch": 128,
                                                  "batch_size": 16}},
                  "preference_model": {"config": {"autoencoder_epochs": 5}}}}


def _env(root: Path) -> dict:
    return {**os.environ, "FASHION_ASSETS_DATA_ROOT": str(root), "DAGSTER_HOME": str(root / "dagster_home"),
            "PYTHONUNBUFFERED": "1"}


def _instance(root: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(root / "dagster_home"))


@pytest.fixture(scope="module")
def daemon_root(tiny_root, tmp_path_factory):
    """A data root with the whole graph materialized, the project's instance settings, its raw
    folders' data versions recorded, and a real daemon with raw_data_sensor running."""
    root = tmp_path_factory.mktemp("overlap") / "root"
    shutil.copytree(tiny_root / "raw", root / "raw")
    (root / "dagster_home").mkdir()
    shutil.copy(REPO / "dagster.yaml", root / "dagster_home" / "dagster.yaml")  # as `make home`
    defs = build_definitions(root)
    with _instance(root) as instance:
        assert defs.resolve_job_def("full_pipeline_job").execute_in_process(instance=instance, run_config=CONFIG).success
        for source in ("raw_images", "raw_labels"):  # what the sensor has seen: no change yet
            digest = observe_raw(DataRootResource(root=str(root)), source).digest
            instance.report_runless_asset_event(dg.AssetObservation(source, tags={DATA_VERSION_TAG: digest}))
    with running_daemon(_env(root), root / "daemon.log"):
        started = subprocess.run([str(Path(sys.executable).parent / "dagster"), "sensor", "start", "raw_data_sensor", "-m",
                                  "fashion_assets.definitions"], env=_env(root), capture_output=True, text=True, cwd=REPO)
        assert started.returncode == 0, started.stderr[-2000:]
        # A first change, run by the daemon alone: its launcher's fork server is warm afterwards, as
        # on a daemon that has been up for a while.
        # It also times the two paths, to line them up in the rounds: from the sensor's first look at
        # a change to the daemon's run starting (a tick later), and from a command line's start to its run's.
        with _instance(root) as instance:
            for warm_up in ("60", "61"):  # the first starts the fork server; the second is timed
                landed = time.time()
                _new_answers(root, defs, warm_up, n=1)
                first_look = _sensor_saw_it(instance, landed)
                run = _finished(instance, _daemon_run(instance, landed).run_id)
                assert run.status == dg.DagsterRunStatus.SUCCESS
            daemon_delay = instance.get_run_record_by_id(run.run_id).start_time - first_look
            spawned = time.time()
            assert _refresh(root).wait(600) == 0
            (cli_run,) = [r for r in instance.get_run_records(limit=3) if r.create_timestamp.timestamp() > spawned]
            cli_delay = cli_run.start_time - spawned
        yield root, defs, max(daemon_delay - cli_delay, 0.0)


def _refresh(root: Path) -> subprocess.Popen:
    """`make refresh-surveys`: the sensor's selection, materialized from the command line."""
    return subprocess.Popen([str(Path(sys.executable).parent / "dagster"), "asset", "materialize", "-m",
                             "fashion_assets.definitions", "--select", SELECTION], env=_env(root), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=REPO)


def _new_answers(root: Path, defs, suffix: str, n: int = 3) -> list[Path]:
    valid = defs.load_asset_value("valid_labels")
    names = list(valid[valid.split == "Validation"].file_name[:n])
    folder = root / "raw" / "validation_label"
    new = []
    for name in names:
        target = folder / name.replace(".json", f"{suffix}.json")
        target.write_bytes((folder / name).read_bytes())
        new.append(target)
    return new


def _sensor_saw_it(instance: dg.DagsterInstance, after: float, timeout: float = 60) -> float:
    """When raw_data_sensor (in the daemon) first saw the change and began to let it settle."""
    from dagster._core.scheduler.instigation import InstigatorType

    (state,) = [s for s in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
                if s.origin.instigator_name == "raw_data_sensor"]
    deadline = time.time() + timeout
    while time.time() < deadline:
        for tick in instance.get_ticks(state.instigator_origin_id, state.selector_id, after=after, limit=5):
            if "settling" in (tick.skip_reason or ""):
                return tick.timestamp
        time.sleep(0.1)
    raise AssertionError(f"raw_data_sensor did not see the change within {timeout} s")


def _ticks(instance: dg.DagsterInstance, after: float) -> list:
    from dagster._core.scheduler.instigation import InstigatorType

    (state,) = [s for s in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
                if s.origin.instigator_name == "raw_data_sensor"]
    return [(round(t.timestamp - after, 1), t.status.value, (t.skip_reason or "")[:60])
            for t in reversed(instance.get_ticks(state.instigator_origin_id, state.selector_id, after=after, limit=10))]


def _daemon_run(instance: dg.DagsterInstance, after: float, timeout: float = 120) -> dg.DagsterRun:
    deadline = time.time() + timeout
    while time.time() < deadline:
        for record in instance.get_run_records(dg.RunsFilter(tags={"fashion_assets/change": "raw_labels"}), limit=5):
            if record.create_timestamp.timestamp() > after:
                return record.dagster_run
        time.sleep(0.1)
    raise AssertionError(f"the daemon requested no run within {timeout} s")


def _finished(instance: dg.DagsterInstance, run_id: str, timeout: float = 300) -> dg.DagsterRun:
    deadline = time.time() + timeout
    while not (run := instance.get_run_by_id(run_id)).is_finished:
        assert time.time() < deadline, f"run {run_id} did not finish in {timeout} s"
        time.sleep(0.2)
    return run


def _compare(root: Path, reference: Path) -> dict:
    """Rows in one table and not the other, both ways, per table (EXCEPT ALL)."""
    from fashion_assets.core.common import warehouse

    out = {}
    with warehouse.connect(root / "warehouse.duckdb") as conn:
        conn.execute(f"ATTACH '{reference / 'warehouse.duckdb'}' AS ref (READ_ONLY)")
        try:
            for table in TABLES:
                a, b = f"warehouse.fashion.{table}", f"ref.fashion.{table}"
                out[table] = tuple(conn.execute(f"SELECT count(*) FROM (SELECT * FROM {x} EXCEPT ALL SELECT * FROM {y})")
                                   .fetchone()[0] for x, y in ((a, b), (b, a)))
        finally:
            conn.execute("DETACH ref")
    return out


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_the_daemon_s_run_and_two_command_line_refreshes_overlap_and_all_succeed(daemon_root, tmp_path, round_):
    root, defs, lead = daemon_root
    reference = tmp_path / "reference"
    shutil.copytree(root, reference, symlinks=True, ignore=shutil.ignore_patterns("dagster_home", "daemon.log"))
    landed = time.time()
    new = _new_answers(root, defs, f"7{round_}")
    with _instance(root) as instance:
        # The command-line refreshes start when the sensor has seen the change once: their runs
        # begin after their imports, when the daemon's run starts on the sensor's next tick.
        first_look = _sensor_saw_it(instance, landed)
        time.sleep(max(first_look + lead - time.time(), 0.0))
        cli = []
        for _ in range(2):
            cli.append((time.time(), _refresh(root)))
            time.sleep(0.5)
        daemon_run = _daemon_run(instance, landed)
        outputs = [(spawned, p.communicate(timeout=600)[0], p.returncode) for spawned, p in cli]
        finished = _finished(instance, daemon_run.run_id)
        runs = [r for r in instance.get_run_records(limit=10) if r.create_timestamp.timestamp() > landed]
        spans = sorted((r.start_time - landed, r.end_time - landed) for r in runs)
        print(f"round {round_}: the three runs' (start, end), s after the files landed: "
              f"{[(round(a, 1), round(b, 1)) for a, b in spans]}; sensor ticks: {_ticks(instance, landed)}")
    assert finished.status == dg.DagsterRunStatus.SUCCESS, (root / "daemon.log").read_text()[-3000:]
    for spawned, output, code in outputs:
        assert code == 0, output[-4000:]
        assert "Could not set lock" not in output
    assert len(spans) == 3
    assert max(a for a, _ in spans) - min(a for a, _ in spans) < 2.5, spans  # the runs started within a second or two
    assert max(a for a, _ in spans) < min(b for _, b in spans), spans  # all three running at one moment
    # The same files, one run, in a copy taken before they landed.
    for path in new:
        shutil.copy2(path, reference / "raw" / "validation_label" / path.name)
    reference_defs = build_definitions(reference)
    with dg.DagsterInstance.ephemeral() as instance:
        assert dg.materialize(list(reference_defs.assets), selection=[dg.AssetKey(k.path) for k in FOLLOWING["raw_labels"]],
                              resources=reference_defs.resources, instance=instance).success
    differences = _compare(root, reference)
    assert differences == {t: (0, 0) for t in TABLES}, differences
    labels = defs.load_asset_value("label_table")
    assert {p.name for p in new} <= set(labels.file_name)
