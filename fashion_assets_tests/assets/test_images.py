"""The images job over the tiny dataset: every image segmented and cropped, checks reported,
re-materializing touches no file."""

import os

import dagster as dg
import numpy as np
from PIL import Image

from fashion_assets.assets.images import (IMAGE_SHARDS, cropped_image_files, image_partitions,
                                          segmented_image_files)
from fashion_assets.core.batch import shard_of



def test_every_usable_image_is_segmented_and_cropped(images_run):
    defs, result = images_run
    images = defs.load_asset_value("image_table")
    segmented = defs.load_asset_value("segmented_images")
    cropped = defs.load_asset_value("cropped_images")
    seg_q = defs.load_asset_value("segmentation_quarantine")
    crop_q = defs.load_asset_value("crop_quarantine")
    assert len(segmented) + len(seg_q) == len(images)
    assert len(cropped) + len(crop_q) == len(segmented)
    assert set(segmented.backend) == {"grabcut"}
    meta = result.asset_materializations_for_node("segmentation")[0].metadata
    assert meta["backends"].value == {"grabcut": len(segmented)}
    for path in cropped.output.head(10):
        assert Image.open(path).size == (224, 224)
    # Crops are centred on the figure: the middle column holds it, the corners are white padding.
    sample = np.asarray(Image.open(cropped.output.iloc[0]))
    assert not (sample[:, 100:124] >= 250).all()


def test_white_ratio_check_reports_bounds_and_outliers(images_run):
    _, result = images_run
    check = {e.check_name: e for e in result.get_asset_check_evaluations()}["segmented_images_white_ratio_iqr"]
    lo, hi = check.metadata["bounds"].value
    assert lo < hi
    assert check.passed == (check.metadata["outliers"].value == 0)


def test_rematerializing_touches_no_image(images_run):
    defs, _ = images_run
    cropped = defs.load_asset_value("cropped_images")
    segmented = defs.load_asset_value("segmented_images")
    stamps = {p: os.stat(p).st_mtime_ns for p in [*cropped.output, *segmented.output]}
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("images_job").execute_in_process(instance=instance)
    assert result.success
    assert result.asset_materializations_for_node("segmentation")[0].metadata["report"].value["processed"] == 0
    assert {p: os.stat(p).st_mtime_ns for p in stamps} == stamps


def _partition_run(defs, partition_key, *assets):
    job = defs.resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.ephemeral() as instance:
        return job.execute_in_process(instance=instance, partition_key=partition_key,
                                      asset_selection=[dg.AssetKey(a) for a in assets], raise_on_error=False)


def test_a_partition_run_touches_only_its_own_shard(images_run):
    # What each run of a backfill does: one split × shard, incrementally, leaving the others alone.
    defs, _ = images_run
    segmented = defs.load_asset_value("segmented_images")
    shard = segmented[(segmented.split == "Train")
                      & (segmented.file_name.map(lambda n: shard_of(n, IMAGE_SHARDS)) == 1)]
    others = segmented.drop(shard.index)
    assert len(shard) and len(others)
    victim = shard.output.iloc[0]
    os.remove(victim)
    stamps = {p: os.stat(p).st_mtime_ns for p in others.output}
    result = _partition_run(defs, dg.MultiPartitionKey({"split": "Train", "shard": "1"}), "segmented_image_files")
    assert result.success
    meta = result.asset_materializations_for_node("segmented_image_files")[0].metadata
    assert list(meta["partitions"].value) == ["Train-1"]
    assert meta["processed"].value == 1  # only the missing file was made again
    assert os.path.exists(victim)
    assert {p: os.stat(p).st_mtime_ns for p in stamps} == stamps


def test_gathering_refuses_a_missing_partition(images_run, tiny_root):
    defs, _ = images_run
    manifest = tiny_root / "images" / "partitions" / "segmented" / "Validation-2.json"
    saved = manifest.read_bytes()
    manifest.unlink()
    try:
        with dg.DagsterInstance.ephemeral() as instance:
            result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
                instance=instance, asset_selection=[dg.AssetKey("segmented_images"), dg.AssetKey("segmentation_quarantine")],
                raise_on_error=False)
        assert not result.success
        failure = result.failure_data_for_node("segmentation")
        assert "Validation-2" in str(failure.error.message)
    finally:
        manifest.write_bytes(saved)


def test_jobs_cover_every_partition_and_backfills_fan_out(images_run):
    defs, _ = images_run
    for name in ("images_job", "full_pipeline_job"):
        tags = defs.resolve_job_def(name).tags
        keys = image_partitions.get_partition_keys()
        assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (keys[0], keys[-1])
    assert len(image_partitions.get_partition_keys()) == 2 * IMAGE_SHARDS
    for asset in (segmented_image_files, cropped_image_files):
        assert asset.backfill_policy.max_partitions_per_run == 1


def test_a_partitioned_asset_without_a_partition_says_how_to_run_it(images_run):
    defs, _ = images_run
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey("cropped_image_files")], raise_on_error=False)
    assert not result.success
    message = str(result.failure_data_for_node("cropped_image_files").error.message)
    assert "partitioned by split × shard" in message and "images_job" in message
