"""The images job over the tiny dataset: every image segmented and cropped, checks reported,
re-materializing touches no file."""

import os

import dagster as dg
import numpy as np
from PIL import Image



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
