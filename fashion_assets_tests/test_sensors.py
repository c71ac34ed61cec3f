"""Survey-arrival sensor cursor cases and the nightly schedule."""

import os
import time

import dagster as dg
import pytest

from fashion_assets.definitions import build_definitions
from fashion_assets.resources import DataRootResource
from fashion_assets.sensors import survey_arrival_sensor

OLD = time.time() - 3600  # well past the settle time


def write(path, text='{"ok": 1}', mtime=OLD):
    path.write_text(text)
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def root(tmp_path):
    for folder in ("training_label", "validation_label"):
        (tmp_path / "raw" / folder).mkdir(parents=True)
    return tmp_path


def tick(root, cursor=None):
    context = dg.build_sensor_context(cursor=cursor, resources={"data_root": DataRootResource(root=str(root))})
    return survey_arrival_sensor(context)


def test_nothing_new_requests_nothing(root):
    result = tick(root)
    assert not result.run_requests and result.skip_reason


def test_new_files_trigger_once_and_never_twice(root):
    write(root / "raw" / "training_label" / "W_00001_50_ivy_M_000001.json")
    write(root / "raw" / "validation_label" / "W_00002_50_ivy_M_000002.json", mtime=OLD + 1)
    first = tick(root)
    assert len(first.run_requests) == 1
    again = tick(root, first.cursor)
    assert not again.run_requests


def test_cursor_survives_a_restart(root):
    write(root / "raw" / "training_label" / "W_00001_50_ivy_M_000001.json")
    cursor = tick(root).cursor  # what Dagster stores between ticks and across restarts
    assert not tick(root, cursor).run_requests
    write(root / "raw" / "training_label" / "W_00003_50_ivy_M_000003.json", mtime=OLD + 5)
    assert len(tick(root, cursor).run_requests) == 1
    # A file with the same mtime as the cursor's, but not seen yet, still counts.
    write(root / "raw" / "training_label" / "W_00004_50_ivy_M_000004.json", mtime=OLD)
    assert len(tick(root, cursor).run_requests) == 1


def test_half_written_file_waits_until_it_settles(root):
    fresh = write(root / "raw" / "training_label" / "W_00001_50_ivy_M_000001.json", '{"E_id": 1, "us', mtime=time.time())
    result = tick(root)
    assert not result.run_requests  # still being written, maybe
    write(fresh, '{"E_id": 1}', mtime=OLD)
    assert len(tick(root, result.cursor).run_requests) == 1


def test_malformed_file_still_triggers_the_run_that_quarantines_it(root):
    write(root / "raw" / "training_label" / "W_00001_50_ivy_M_000001.json", "{not json")
    assert len(tick(root).run_requests) == 1  # the label asset quarantines it; nothing is blocked


def test_sensor_and_schedule_target_the_preference_chain(root):
    defs = build_definitions(root)
    write(root / "raw" / "training_label" / "W_00001_50_ivy_M_000001.json")
    with dg.DagsterInstance.ephemeral() as instance:
        data = defs.resolve_sensor_def("survey_arrival_sensor").evaluate_tick(
            dg.build_sensor_context(instance=instance, definitions=defs,
                                    resources={"data_root": DataRootResource(root=str(root))}))
    assert len(data.run_requests) == 1
    job = defs.resolve_job_def("preference_chain_job")
    selected = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert {"label_table", "valid_labels", "preference_report", "preference_metrics"} <= selected
    assert "segmented_images" not in selected and "style_classifier" not in selected
    schedule = defs.resolve_schedule_def("nightly_preference_chain")
    assert schedule.cron_schedule == "0 3 * * *" and schedule.job_name == "preference_chain_job"
    with dg.DagsterInstance.ephemeral() as instance:
        run = schedule.evaluate_tick(dg.build_schedule_context(instance=instance))
    assert len(run.run_requests) == 1
