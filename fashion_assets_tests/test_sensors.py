"""raw_data_sensor: every change of a raw folder becomes exactly one new data version of its
source asset and exactly one run of what follows from it, once the folder looks the same at two
ticks — whatever the files' mtimes, future ones included."""

import json
import os
import time

import dagster as dg
import pandas as pd
import pytest

from fashion_assets.demo_data.writer import GeneratorConfig, generate
from fashion_assets.definitions import build_definitions
from fashion_assets.resources import DataRootResource
from dagster._core.definitions.data_version import StaleStatus
from dagster._utils.test.data_versions import get_stale_status_resolver

from fashion_assets.assets.conventions import LISTING_TAG
from fashion_assets.core.common.fingerprint import fingerprint
from fashion_assets.core.tables.scanning import label_changes
from fashion_assets.sensors import DATA_VERSION_TAG, raw_data_sensor

OLD = time.time() - 3600  # well past the settle time
LABELS = "training_label"


def write(path, text='{"ok": 1}', mtime=OLD):
    path.write_text(text)
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def root(tmp_path):
    for folder in ("training_label", "validation_label", "training_image", "validation_image"):
        (tmp_path / "raw" / folder).mkdir(parents=True)
    return tmp_path


def tick(root, cursor=None):
    context = dg.build_sensor_context(cursor=cursor, resources={"data_root": DataRootResource(root=str(root))})
    return raw_data_sensor(context)


def settled(root, cursor=None):
    """The tick that acts on a change: the one after the tick that first saw it."""
    first = tick(root, cursor)
    assert not first.asset_events and "settling" in first.skip_reason.skip_message, "acted on a change seen once"
    return tick(root, first.cursor)


@pytest.fixture
def relist_every_tick(monkeypatch):
    """Every tick lists the folders (an edit in place changes no folder: seen on the periodic relisting)."""
    monkeypatch.setattr("fashion_assets.core.common.settling.RELIST_SECONDS", 0.0)


def changed(result) -> list[str]:
    return sorted(e.asset_key.to_user_string() for e in result.asset_events)


def test_first_tick_records_both_folders_then_nothing_until_a_change(root):
    first = settled(root)
    assert changed(first) == ["raw_images", "raw_labels"]
    assert all(DATA_VERSION_TAG in e.tags for e in first.asset_events)
    again = tick(root, first.cursor)
    assert not again.asset_events and again.skip_reason.skip_message == "no change in the raw folders"


def test_every_kind_of_change_counts_once(root, relist_every_tick):
    cursor = settled(root).cursor
    labels = root / "raw" / LABELS
    steps = [
        ("a new file", lambda: write(labels / "W_00001_50_ivy_M_000001.json")),
        # Same mtime as the file already handled (a batch written within one clock tick).
        ("a second file with the same mtime", lambda: write(labels / "W_00002_50_ivy_M_000002.json")),
        # Copied with cp -p / rsync -a / tar: an mtime older than everything seen so far.
        ("a file arriving with an old mtime", lambda: write(labels / "W_00003_50_ivy_M_000003.json", mtime=OLD - 86400)),
        ("an edit in place", lambda: write(labels / "W_00001_50_ivy_M_000001.json", '{"ok": 22}', mtime=OLD + 1)),
        ("a deletion", lambda: (labels / "W_00002_50_ivy_M_000002.json").unlink()),
        ("a malformed file (label_files quarantines it)", lambda: write(labels / "W_00004_50_ivy_M_000004.json", "{no")),
    ]
    versions, run_keys = set(), set()
    for what, change in steps:
        change()
        result = settled(root, cursor)
        assert changed(result) == ["raw_labels"], what
        assert len(result.run_requests) == 1, what
        versions.add(result.asset_events[0].tags[DATA_VERSION_TAG])
        run_keys.add(result.run_requests[0].run_key)
        again = tick(root, result.cursor)
        assert not again.asset_events and not again.run_requests, f"{what} counted twice"
        cursor = result.cursor
    assert len(versions) == len(run_keys) == len(steps)  # each change its own data version and run
    # Back to an earlier state (the malformed file removed): a change too, with a run key of its own.
    (labels / "W_00004_50_ivy_M_000004.json").unlink()
    back = settled(root, cursor)
    assert back.run_requests and back.run_requests[0].run_key not in run_keys


def test_cursor_survives_a_restart(root):
    cursor = settled(root).cursor  # what Dagster stores between ticks and across restarts
    write(root / "raw" / LABELS / "W_00001_50_ivy_M_000001.json")
    seen_once = tick(root, cursor).cursor
    assert changed(tick(root, seen_once)) == ["raw_labels"]  # a restarted sensor with the stored cursor
    assert changed(tick(root, seen_once)) == ["raw_labels"]  # the cursor only moves when a result is stored


def test_a_file_still_being_written_waits_until_the_listing_stops_changing(root):
    cursor = settled(root).cursor
    growing = write(root / "raw" / LABELS / "W_00001_50_ivy_M_000001.json", '{"E_id": 1, "us', mtime=OLD)
    result = tick(root, cursor)
    assert not result.asset_events and "raw_labels" in result.skip_reason.skip_message
    write(growing, '{"E_id": 1, "user": {}}', mtime=OLD + 5)  # grew between the ticks
    result = tick(root, result.cursor)
    assert not result.asset_events and "settling" in result.skip_reason.skip_message
    assert changed(tick(root, result.cursor)) == ["raw_labels"]  # the same at the next tick: settled


def test_a_future_mtime_is_counted_like_any_other_and_later_files_still_arrive(root):
    """Clock skew on a share: a file dated a year ahead. The old rule ("modified in the last
    10 s") waited for it forever, so no survey file was ever picked up again."""
    cursor = settled(root).cursor
    labels = root / "raw" / LABELS
    write(labels / "W_00001_50_ivy_M_000001.json", mtime=time.time() + 365 * 86400)
    first = settled(root, cursor)
    assert changed(first) == ["raw_labels"] and len(first.run_requests) == 1
    write(labels / "W_00002_50_ivy_M_000002.json", mtime=time.time())  # just landed, with the real time
    second = settled(root, first.cursor)
    assert changed(second) == ["raw_labels"] and second.run_requests[0].run_key != first.run_requests[0].run_key


def test_a_folder_that_never_stops_changing_is_acted_on_after_the_wait_limit(root, monkeypatch):
    monkeypatch.setattr("fashion_assets.core.common.settling.MAX_WAIT_SECONDS", 0.0)
    cursor = settled(root).cursor
    labels = root / "raw" / LABELS
    write(labels / "W_00001_50_ivy_M_000001.json")
    cursor = tick(root, cursor).cursor  # seen once: settling
    write(labels / "W_00002_50_ivy_M_000002.json")  # changed again before the next tick
    assert changed(tick(root, cursor)) == ["raw_labels"]


def test_between_changes_a_tick_lists_nothing(root, monkeypatch):
    """The cheap check: 250k entries are listed only when a folder changed (or every RELIST_SECONDS)."""
    cursor = settled(root).cursor
    listed = []
    import fashion_assets.core.common.settling as settling

    monkeypatch.setattr(settling, "fingerprint", lambda folders: listed.append(folders) or fingerprint(folders))
    quiet = tick(root, cursor)
    assert not quiet.asset_events and not listed
    write(root / "raw" / LABELS / "W_00001_50_ivy_M_000001.json")
    tick(root, quiet.cursor)
    assert len(listed) == 1  # the label folders changed; the image folders did not


def test_cursor_stays_small_however_many_files(root):
    labels = root / "raw" / LABELS
    sizes = []
    for n in (10, 20_000):
        for i in range(len(list(labels.iterdir())), n):
            (labels / f"W_{i:05d}_50_ivy_M_{i:06d}.json").write_text("{}")
        os.utime(labels, (OLD, OLD))
        for p in labels.iterdir():
            os.utime(p, (OLD, OLD))  # all at one mtime, as a bulk copy leaves them
        sizes.append(len(settled(root).cursor))
    assert sizes[0] == sizes[1] < 1000


def test_the_run_requested_for_new_survey_files_is_what_follows_from_them():
    first = tick_any_change("raw_labels")
    selected = {k.to_user_string() for k in first.run_requests[0].asset_selection}
    assert {"label_table", "label_quarantine", "valid_labels", "leakage_report", "preference_model",
            "preference_predictions", "preference_metrics"} <= selected
    assert not selected & {"style_classifier", "feature_matrix", "image_table", "segmented_images"}  # no training, no images
    images = {k.to_user_string() for k in tick_any_change("raw_images").run_requests[0].asset_selection}
    assert {"image_table", "segmented_images", "cropped_images", "image_set", "feature_matrix"} <= images
    assert "style_classifier" not in images
    assert tick_any_change("raw_images").run_requests[0].tags["dagster/asset_partition_range_start"] == "Train-0"


def tick_any_change(source: str):
    """A tick that sees only ``source`` change (the other folder's digest already in the cursor)."""
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for folder in ("training_label", "validation_label", "training_image", "validation_image"):
            (root / "raw" / folder).mkdir(parents=True)
        cursor = json.loads(settled(root).cursor)
        cursor.pop(source)
        return settled(root, json.dumps(cursor))


def test_a_new_survey_file_marks_the_label_tables_stale_and_its_run_refreshes_them(tmp_path):
    generate(tmp_path / "raw", GeneratorConfig(scale=0.005, seed=3, width=64, height=96, workers=1), log=lambda _: None)
    for path in (tmp_path / "raw").rglob("*"):
        os.utime(path, (OLD, OLD))  # settled long ago
    defs = build_definitions(tmp_path)
    with dg.instance_for_test() as instance:
        sensor = defs.resolve_sensor_def("raw_data_sensor")

        def context(cursor=None):
            return dg.build_sensor_context(instance=instance, definitions=defs, cursor=cursor,
                                           resources={"data_root": DataRootResource(root=str(tmp_path))})

        def settled_tick(cursor=None):
            seen_once = sensor.evaluate_tick(context(cursor))
            assert not seen_once.asset_events
            return sensor.evaluate_tick(context(seen_once.cursor))

        first = settled_tick()
        assert changed(first) == ["raw_images", "raw_labels"]
        for event in first.asset_events:
            instance.report_runless_asset_event(event)
        assert defs.resolve_job_def("tables_job").execute_in_process(instance=instance).success
        name = sorted((tmp_path / "raw" / "validation_label").iterdir())[0].name
        write(tmp_path / "raw" / "validation_label" / name.replace(".json", "9.json"),
              (tmp_path / "raw" / "validation_label" / name).read_text())
        result = settled_tick(first.cursor)
        assert changed(result) == ["raw_labels"] and len(result.run_requests) == 1
        for event in result.asset_events:
            instance.report_runless_asset_event(event)
        stale = get_stale_status_resolver(instance, list(defs.assets))
        assert stale.get_status(dg.AssetKey("label_table")) == StaleStatus.STALE
        assert stale.get_status(dg.AssetKey("image_table")) == StaleStatus.FRESH  # the image side did not change
        # A file that lands after the tick is the next tick's change: the run parses from the
        # listing the tick took (kept for it, named by its tag), not from a second listing.
        request = result.run_requests[0]
        assert (tmp_path / "listings" / f"raw_labels-{request.tags[LISTING_TAG]}.npz").exists()
        late = write(tmp_path / "raw" / "validation_label" / name.replace(".json", "8.json"),
                     (tmp_path / "raw" / "validation_label" / name).read_text())
        # The requested run (its table part: this root has no image stage) brings them up to date.
        tables = [k for k in request.asset_selection if k.path[-1] in
                  ("label_table", "label_quarantine", "valid_labels", "leakage_report", "user_preferences")]
        assert dg.materialize(list(defs.assets), selection=tables, resources=defs.resources, instance=instance,
                              tags=request.tags).success
        stale = get_stale_status_resolver(instance, list(defs.assets))
        assert stale.get_status(dg.AssetKey("label_table")) == StaleStatus.FRESH
        parsed = set(defs.load_asset_value("label_table", instance=instance).file_name)
        assert name.replace(".json", "9.json") in parsed and late.name not in parsed
        after = settled_tick(result.cursor)
        assert changed(after) == ["raw_labels"]
        for event in after.asset_events:
            instance.report_runless_asset_event(event)
        assert dg.materialize(list(defs.assets), selection=tables, resources=defs.resources, instance=instance,
                              tags=after.run_requests[0].tags).success
        table = defs.load_asset_value("label_table", instance=instance)
        full = label_changes(tmp_path / "raw", workers=1).added  # a full parse of the folders now
        columns = list(full.columns)
        assert late.name in set(table.file_name)
        pd.testing.assert_frame_equal(table[columns].sort_values(["split", "file_name"], ignore_index=True), full,
                                      check_dtype=False)
        result = after
        # A restart without a cursor starts from the recorded data version: no spurious change.
        restarted = sensor.evaluate_tick(context())
        assert not restarted.asset_events
    assert json.loads(result.cursor)["raw_labels"]["recorded"] == result.asset_events[0].tags[DATA_VERSION_TAG]
