"""The image stage alone, on a small generated data root: every image segmented and cropped (or
quarantined) into the artifact store, reruns touch nothing, a partition run only its partition,
a deleted source image leaves no file or row behind, and a stale partition is named by the
blocking completeness check."""

import os
from pathlib import Path

import dagster as dg
import numpy as np
import pytest
from PIL import Image

from fashion_assets.assets.images import IMAGE_RUN_TAGS, IMAGE_SHARDS, image_partitions, partition_of, segmentation
from fashion_assets.assets.images import cropping
from fashion_assets.core.common.atomic import TEMP_PREFIX
from fashion_assets.demo_data.writer import GeneratorConfig, generate
from fashion_assets.definitions import build_definitions
from fashion_assets.resources import SegmentationResource

STAGE = ["image_table", "image_quarantine", "segmented_images", "segmentation_quarantine", "segmentation_outliers",
         "cropped_images", "crop_quarantine", "image_set"]


def materialize(defs, selection, **kwargs):
    with dg.instance_for_test() as instance:
        return dg.materialize(list(defs.assets), selection=selection, resources=defs.resources, instance=instance,
                              raise_on_error=False, **kwargs)


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    """(definitions, root, result) of one run of the image table and the image stage."""
    root = tmp_path_factory.mktemp("image_root")
    generate(root / "raw", GeneratorConfig(scale=0.01, seed=11, width=96, height=128, workers=2), log=lambda _: None)
    defs = build_definitions(root, SegmentationResource(model_home=str(root / "no_models")))
    result = materialize(defs, STAGE, tags=IMAGE_RUN_TAGS)
    assert result.success
    return defs, root, result


def checks(result) -> dict:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def files_under(folder: Path) -> set[str]:
    return {str(p) for p in folder.rglob("*") if p.is_file()}


def test_every_image_is_segmented_and_cropped_into_the_artifact_store(stage):
    defs, root, result = stage
    images, segmented = defs.load_asset_value("image_table"), defs.load_asset_value("segmented_images")
    cropped, image_set = defs.load_asset_value("cropped_images"), defs.load_asset_value("image_set")
    seg_q, crop_q = defs.load_asset_value("segmentation_quarantine"), defs.load_asset_value("crop_quarantine")
    assert len(segmented) + len(seg_q) == len(images)
    assert len(cropped) + len(crop_q) == len(segmented)
    assert len(image_set) == len(cropped) and set(segmented.backend) == {"grabcut"}
    assert set(segmented.partition) == set(image_partitions.get_partition_keys())
    # Files live in the store, one folder per partition, and every file is named by a row.
    assert files_under(root / "artifacts" / "segmented_images") == set(segmented.output)
    assert files_under(root / "artifacts" / "cropped_images") == set(cropped.output)
    assert all(Path(p).parent.name == part for p, part in zip(cropped.output, cropped.partition))
    for path in image_set.crop.head(5):
        assert Image.open(path).size == (224, 224)
    sample = np.asarray(Image.open(image_set.crop.iloc[0]))  # centred on the figure, white padding
    assert not (sample[:, 100:124] >= 250).all()
    assert checks(result)["image_set_complete"].passed


def test_white_ratio_check_reports_bounds_and_outliers(stage):
    _, _, result = stage
    check = checks(result)["segmentation_outliers_white_ratio_iqr"]
    lo, hi = check.metadata["bounds"].value
    assert lo < hi and check.passed == (check.metadata["outliers"].value == 0)


def test_rematerializing_touches_no_image(stage):
    defs, root, _ = stage
    stamps = {p: os.stat(p).st_mtime_ns for p in files_under(root / "artifacts")}
    result = materialize(defs, STAGE, tags=IMAGE_RUN_TAGS)
    assert result.success
    assert result.asset_materializations_for_node("segmentation")[0].metadata["processed"].value == 0
    assert {p: os.stat(p).st_mtime_ns for p in files_under(root / "artifacts")} == stamps


def test_a_partition_run_touches_only_its_own_partition(stage):
    defs, root, _ = stage
    segmented = defs.load_asset_value("segmented_images")
    mine, others = segmented[segmented.partition == "Train-1"], segmented[segmented.partition != "Train-1"]
    assert len(mine) and len(others)
    os.remove(mine.output.iloc[0])
    stamps = {p: os.stat(p).st_mtime_ns for p in others.output}
    result = materialize(defs, ["segmented_images", "segmentation_quarantine"], partition_key="Train-1")
    assert result.success
    meta = result.asset_materializations_for_node("segmentation")[0].metadata
    assert meta["partitions"].value == ["Train-1"] and meta["processed"].value == 1
    assert os.path.exists(mine.output.iloc[0])
    assert {p: os.stat(p).st_mtime_ns for p in others.output} == stamps
    after = defs.load_asset_value("segmented_images")
    assert len(after) == len(segmented)  # the other partitions' rows are kept


def test_a_changed_image_makes_its_partition_stale_and_the_check_names_it(stage):
    defs, root, _ = stage
    images = defs.load_asset_value("image_table")
    target = images[images.split == "Validation"].iloc[0]
    partition = partition_of(images.split, images.file_name)[target.name]
    path = Path(target.path)
    original = path.read_bytes()
    Image.open(path).transpose(Image.FLIP_LEFT_RIGHT).save(path, quality=90)  # new content, same name
    try:
        assert materialize(defs, ["image_table", "image_quarantine"]).success
        result = materialize(defs, ["image_set"])  # the image stage itself was not rerun
        check = checks(result)["image_set_complete"]
        assert not check.passed and check.metadata["partitions"].value == [partition]
        assert "materialize them" in check.description
    finally:
        path.write_bytes(original)
    assert materialize(defs, STAGE, tags=IMAGE_RUN_TAGS).success


def test_a_deleted_source_image_leaves_no_file_or_row(stage):
    defs, root, _ = stage
    image_set = defs.load_asset_value("image_set")
    gone = image_set[image_set.split == "Train"].iloc[0]
    segmented = defs.load_asset_value("segmented_images").set_index("file_name")
    seg_file = segmented.loc[gone.file_name, "output"]
    leftover = Path(gone.crop).parent / f"{TEMP_PREFIX}0123456789abcdef.jpg"  # what a killed writer leaves
    leftover.write_bytes(b"partial")
    table = defs.load_asset_value("image_table")
    os.remove(table[(table.split == gone.split) & (table.file_name == gone.file_name)].path.iloc[0])
    assert materialize(defs, STAGE, tags=IMAGE_RUN_TAGS).success
    for table in ("image_table", "segmented_images", "cropped_images", "image_set"):
        assert gone.file_name not in set(defs.load_asset_value(table).file_name), table
    assert not os.path.exists(seg_file) and not os.path.exists(gone.crop) and not leftover.exists()
    assert files_under(root / "artifacts" / "cropped_images") == set(defs.load_asset_value("cropped_images").output)


def test_a_partitioned_asset_without_a_partition_says_how_to_run_it(stage):
    defs, _, _ = stage
    result = materialize(defs, ["segmented_images", "segmentation_quarantine"])
    assert not result.success
    message = str(result.failure_data_for_node("segmentation").error.message)
    assert "partitioned by split × shard" in message and "images_job" in message


def test_jobs_cover_every_partition_and_backfills_fan_out(stage):
    defs, _, _ = stage
    keys = image_partitions.get_partition_keys()
    assert keys == [f"{s}-{k}" for s in ("Train", "Validation") for k in range(IMAGE_SHARDS)]
    for name in ("images_job", "full_pipeline_job"):
        tags = defs.resolve_job_def(name).tags
        assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (keys[0], keys[-1])
    for asset in (segmentation, cropping):
        assert asset.backfill_policy.max_partitions_per_run == 1


def test_all_images_of_a_partition_deleted_leaves_no_file_behind(stage):
    defs, root, _ = stage
    table = defs.load_asset_value("image_set")
    victims = table[table.partition == "Validation-3"]
    assert len(victims)
    paths = defs.load_asset_value("image_table").set_index(["split", "file_name"]).path
    for name in victims.file_name:
        os.remove(paths[("Validation", name)])
    assert materialize(defs, STAGE, tags=IMAGE_RUN_TAGS).success
    for asset in ("segmented_images", "cropped_images"):
        assert "Validation-3" not in set(defs.load_asset_value(asset).partition)
        assert not files_under(root / "artifacts" / asset / "Validation-3")
    image_set = defs.load_asset_value("image_set")
    assert len(image_set) and "Validation-3" not in set(image_set.partition)


def test_the_shard_count_is_a_setting_and_a_bad_value_is_refused_by_name():
    import os
    import subprocess
    import sys

    from fashion_assets_tests import REPO

    def partitions(value):
        return subprocess.run([sys.executable, "-c", "from fashion_assets.assets.images import image_partitions as p; "
                               "print(','.join(p.get_partition_keys()))"], cwd=REPO, capture_output=True, text=True,
                              env={**os.environ, "FASHION_ASSETS_IMAGE_SHARDS": value})

    assert partitions("2").stdout.split() == ["Train-0,Train-1,Validation-0,Validation-1"]
    assert partitions("").stdout.strip().count(",") == 7  # unset or empty: the default, 4 per split
    refused = partitions("eight")
    assert refused.returncode != 0
    assert "FASHION_ASSETS_IMAGE_SHARDS='eight': shards per split is a whole number from 1 to 256" in refused.stderr
