"""The nightly refresh and the weekly retrain: skipped with the reason when nothing changed, one
run of the right assets when something did (Dagster's schedule test helpers, the requested runs
executed), and one real tick through ``dagster-daemon``."""

import datetime
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from fashion_assets.assets.conventions import LISTING_TAG, STYLE_MODEL
from fashion_assets.definitions import build_definitions
from fashion_assets.resources import DataRootResource, ModelRegistryResource
from fashion_assets.schedules import RETRAIN, nightly_refresh, weekly_retrain
from fashion_assets.sensors import CHANGE_TAG, FOLLOWING
from fashion_assets_tests import REPO, running_daemon

CONFIG = {"ops": {"style_classifier": {"config": {"image_size": 32, "epochs": 2, "samples_per_epoch": 128,
                                                  "batch_size": 16}},
                  "preference_model": {"config": {"autoencoder_epochs": 5}}}}
NIGHT, SUNDAY = datetime.datetime(2026, 12, 8, 3), datetime.datetime(2026, 12, 13, 4)


def _instance(root: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(root / "dagster_home"))


@pytest.fixture(scope="module")
def built(tiny_root, tmp_path_factory):
    """A data root with the whole pipeline materialized (``make run``'s job) on an instance with
    the project's settings."""
    root = tmp_path_factory.mktemp("schedules") / "root"
    shutil.copytree(tiny_root / "raw", root / "raw")
    (root / "dagster_home").mkdir()
    shutil.copy(REPO / "dagster.yaml", root / "dagster_home" / "dagster.yaml")  # as `make home`
    defs = build_definitions(root)
    with _instance(root) as instance:
        assert defs.resolve_job_def("full_pipeline_job").execute_in_process(instance=instance, run_config=CONFIG).success
    return root, defs


def _night(instance, root, when=NIGHT):
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when,
                                        resources={"data_root": DataRootResource(root=str(root))})
    return nightly_refresh(context)


def _sunday(instance, when=SUNDAY):
    return weekly_retrain(dg.build_schedule_context(instance=instance, scheduled_execution_time=when))


def _execute(defs, instance, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(instance=instance, asset_selection=request.asset_selection,
                                  run_config=request.run_config, tags=request.tags, raise_on_error=False)


def _new_answers(root: Path, defs, suffix: str, n: int = 3) -> list[str]:
    valid = defs.load_asset_value("valid_labels")
    folder = root / "raw" / "validation_label"
    new = []
    for name in list(valid[valid.split == "Validation"].file_name[:n]):
        target = folder / name.replace(".json", f"{suffix}.json")
        target.write_bytes((folder / name).read_bytes())
        new.append(target.name)
    return new


# First: the refreshes below change leakage_report, which leaves the classifier unsynced (rightly).
def test_the_weekly_retrain_trains_only_an_unsynced_classifier_and_moves_the_champion_through_the_gate(built):
    root, defs = built
    registry = ModelRegistryResource(root=str(root / "mlflow")).registry()
    with _instance(root) as instance:
        skipped = _sunday(instance)
        assert isinstance(skipped, dg.SkipReason) and "in sync" in skipped.skip_message

        versions = len(registry.versions(STYLE_MODEL))
        plan = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey("training_plan")],
            run_config={"ops": {"training_plan": {"config": {"target_per_class": 1500}}}})
        assert plan.success  # a changed input: style_classifier is unsynced now
        request = _sunday(instance)
        assert isinstance(request, dg.RunRequest) and request.tags["fashion_assets/retrain"] == "training_plan changed"
        assert request.asset_selection == RETRAIN and RETRAIN[:2] == [dg.AssetKey("style_classifier"),
                                                                        dg.AssetKey("champion_classifier")]
        # The settings of the last training, not the 30-epoch defaults.
        assert request.run_config["ops"]["style_classifier"] == CONFIG["ops"]["style_classifier"]

        result = _execute(defs, instance, request)
        assert len(registry.versions(STYLE_MODEL)) == versions + 1  # registered, whatever the gate said
        (gate,) = [c for c in result.get_asset_check_evaluations() if c.check_name == "style_classifier_beats_chance"]
        champion = registry.champion(STYLE_MODEL)
        rebuilt = {e.asset_key for e in result.get_asset_materialization_events()}
        if gate.passed:
            assert result.success and champion.version == versions + 1
            assert set(RETRAIN) <= rebuilt  # what depends on the champion, rebuilt from it
        else:  # the blocking gate stops the run before the champion: the old one stays
            assert champion is None or champion.version <= versions
            assert dg.AssetKey("champion_classifier") not in rebuilt
        assert isinstance(_sunday(instance, SUNDAY + datetime.timedelta(days=7)), dg.SkipReason)


def test_the_nightly_refresh_skips_an_unchanged_root_and_catches_up_new_answers(built):
    root, defs = built
    with _instance(root) as instance:
        # make run's job observed the folders: the tables record the versions they were built from.
        skipped = _night(instance, root)
        assert isinstance(skipped, dg.SkipReason)
        assert "raw_labels unchanged" in skipped.skip_message and "raw_images unchanged" in skipped.skip_message

        new = _new_answers(root, defs, "71")  # no sensor running: only the schedule sees them
        (request,) = _night(instance, root)
        assert request.asset_selection == [dg.AssetKey("raw_labels"), *FOLLOWING["raw_labels"]]
        assert request.tags[CHANGE_TAG] == "raw_labels" and LISTING_TAG in request.tags
        assert not any(k.to_user_string().startswith("segment") for k in request.asset_selection)  # images unchanged
        result = _execute(defs, instance, request)
        assert result.success
        assert [e.asset_key for e in result.get_asset_observation_events()] == [dg.AssetKey("raw_labels")]
        assert set(new) <= set(defs.load_asset_value("label_table", instance=instance).file_name)
        predicted = defs.load_asset_value("preference_predictions", instance=instance)
        assert predicted.file_name.isin(new).sum() > 0  # the new answers reached the predictions

        assert isinstance(_night(instance, root, NIGHT + datetime.timedelta(days=1)), dg.SkipReason)  # caught up


def test_the_nightly_refresh_leaves_a_change_to_a_refresh_already_running(built):
    root, defs = built
    with _instance(root) as instance:
        _new_answers(root, defs, "72", n=1)
        # The sensor's run for that change, still going (a run record in progress, as the daemon leaves it).
        run = instance.create_run_for_job(defs.resolve_job_def("tables_job"), tags={CHANGE_TAG: "raw_labels"},
                                          status=dg.DagsterRunStatus.STARTED)
        try:
            skipped = _night(instance, root)
            assert isinstance(skipped, dg.SkipReason)
            assert f"run {run.run_id} is already refreshing it" in skipped.skip_message
        finally:
            instance.report_run_failed(run, "stopped by the test")
        (request,) = _night(instance, root)  # that run ended without the change: tonight's refresh takes it
        assert _execute(defs, instance, request).success


def test_the_weekly_retrain_waits_for_its_inputs_on_a_new_instance(tmp_path):
    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        skipped = _sunday(instance)
    assert isinstance(skipped, dg.SkipReason) and "were never materialized" in skipped.skip_message


def test_one_real_daemon_tick_of_the_nightly_refresh_brings_new_answers_in(built, tmp_path):
    root, defs = built
    env = {**os.environ, "FASHION_ASSETS_DATA_ROOT": str(root), "DAGSTER_HOME": str(root / "dagster_home"),
           "FASHION_ASSETS_NIGHTLY_CRON": "* * * * *", "PYTHONUNBUFFERED": "1"}
    dagster = [str(Path(sys.executable).parent / "dagster")]
    new = _new_answers(root, defs, "73")
    with running_daemon(env, tmp_path / "daemon.log"), _instance(root) as instance:
        started = subprocess.run(dagster + ["schedule", "start", "nightly_refresh", "-m", "fashion_assets.definitions"],
                                 env=env, capture_output=True, text=True, cwd=REPO)
        assert started.returncode == 0, started.stderr[-2000:]
        since, deadline, run = time.time(), time.time() + 240, None
        while time.time() < deadline and run is None:
            records = instance.get_run_records(dg.RunsFilter(tags={CHANGE_TAG: "raw_labels"}), limit=1)
            fresh = [r for r in records if r.create_timestamp.timestamp() > since
                     and r.dagster_run.is_finished]
            run = fresh[0].dagster_run if fresh else None
            time.sleep(2)
        log = (tmp_path / "daemon.log").read_text()[-3000:]
        assert run is not None, f"no finished run from the schedule's tick in 4 minutes; daemon log:\n{log}"
        assert run.status == dg.DagsterRunStatus.SUCCESS, log
        assert run.tags.get("dagster/schedule_name") == "nightly_refresh"
        assert set(new) <= set(defs.load_asset_value("label_table", instance=instance).file_name)
