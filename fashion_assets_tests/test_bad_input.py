"""What happens to bad input (docs/bad-input.md): a fault corpus planted by the
test in a small generated data root, then the tables and the image stage. Each case ends as a row
or as a quarantine row with its reason; no case fails a step; every folder entry is accounted for."""

import io
import os
from pathlib import Path

import dagster as dg
import numpy as np
import pytest
from PIL import Image

from fashion_assets.assets.images import IMAGE_RUN_TAGS
from fashion_assets.demo_data.writer import GeneratorConfig, generate
from fashion_assets.core.tables.filenames import shown_name
from fashion_assets.core.tables.scanning import IMAGE_FOLDERS, LABEL_FOLDERS
from fashion_assets.definitions import build_definitions
from fashion_assets.resources import SegmentationResource

STAGE = ["image_table", "image_quarantine", "label_table", "label_quarantine", "segmented_images",
         "segmentation_quarantine", "segmentation_outliers", "cropped_images", "crop_quarantine", "image_set"]
LONG = "W_90007_50_" + "a" * 228 + "_W.jpg"  # 245 bytes, matches the naming pattern


def _tall_figure_stored_sideways() -> bytes:
    """A tall dark figure on white, stored rotated with EXIF Orientation 8 (displayed upright)."""
    upright = np.full((128, 96, 3), 255, np.uint8)
    upright[10:118, 38:58] = (40, 40, 160)
    exif = Image.Exif()
    exif[0x0112] = 8
    buf = io.BytesIO()
    Image.fromarray(upright).transpose(Image.ROTATE_270).save(buf, format="JPEG", quality=92, exif=exif.tobytes())
    return buf.getvalue()


def plant(raw: Path) -> list[dict]:
    """Write the fault corpus; each case: folder, entry, and the row or quarantine reason expected."""
    images, labels = raw / "training_image", raw / "validation_label"
    jpeg = sorted(images.glob("*.jpg"))[0].read_bytes()
    survey = sorted(labels.glob("*.json"))[0].read_bytes()
    assert b'"R_id":' in survey and b'"Q5":' in survey
    cases = []

    def case(folder: Path, name: str, expect: str, data: bytes | None = None):
        if data is not None:
            (folder / name).write_bytes(data)
        cases.append({"folder": folder.name, "name": name, "expect": expect})

    case(images, "W_90001_50_classic_W.jpg", "row", jpeg + b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    case(images, "W_90002_50_classic_W.jpg", "row", _tall_figure_stored_sideways())
    case(images, "W_90003_50_classic_W.JPG", "rename it to W_90003_50_classic_W.jpg", jpeg)
    case(images, "W_90004_50_classic_W.jpeg", "rename it to W_90004_50_classic_W.jpg", jpeg)
    case(images, "w_90005_50_classic_w.jpg", "rename it to W_90005_50_classic_W.jpg", jpeg)
    case(images, "W_９０００６_50_classic_W.jpg", "is not 5 digits", jpeg)
    case(images, LONG, "row", jpeg)
    case(images, "W_90008_50_classic_W.jpg", "truncated JPEG", jpeg[: len(jpeg) * 3 // 5])
    case(images, ".DS_Store", "hidden entry", b"\x00\x01")
    (images / "extra").mkdir()
    case(images, "extra", "sub-folder")
    os.symlink(images / "gone.jpg", images / "W_90009_50_ivy_M.jpg")
    case(images, "W_90009_50_ivy_M.jpg", "broken symbolic link")
    os.symlink(images / "W_90001_50_classic_W.jpg", images / "W_90010_50_classic_W.jpg")
    case(images, "W_90010_50_classic_W.jpg", "row")  # a link to a good file is that file
    # A name from another system's share: byte 0xff is no UTF-8 (the row names it escaped).
    case(images, os.fsdecode(b"W_90011_50_classic_W\xff.jpg"), "file name is not valid UTF-8", jpeg)
    os.symlink("/dev/zero", images / "W_90012_50_classic_W.jpg")
    case(images, "W_90012_50_classic_W.jpg", "not a regular file (a symbolic link to /dev/zero, which is a character device)")

    name = sorted(labels.glob("*.json"))[0].name
    stem = name[: -len(".json")]
    case(labels, f"{stem}1.json", "outside the 64-bit integer range",
         survey.replace(b'"R_id":', b'"R_id":9223372036854775808,"R_idx":'))
    case(labels, f"{stem}2.json", "duplicate key 'Q5'", survey.replace(b'"Q5":', b'"Q5":1,"Q5":'))
    case(labels, f"{stem}3.json".lower(), "rename it to", survey)
    case(labels, f"{stem}４.json", "is not numeric", survey)
    case(labels, ".~lock.json#", "hidden entry", b"")
    (labels / "old").mkdir()
    case(labels, "old", "sub-folder")
    os.symlink(labels / "nowhere.json", labels / f"{stem}5.json")
    case(labels, f"{stem}5.json", "broken symbolic link")
    case(labels, f"{stem}6.json", "duplicate key 'Q5'", survey.replace(b'"Q5":', b'"Q5":1,"Q5" :'))
    case(labels, f"{stem}7.json", "nested too deep",
         survey.replace(b'"R_id":', b'"extra":' + b"[" * 1000 + b"]" * 1000 + b',"R_id":'))
    case(labels, f"{stem}8.json", "imgName is {'a': 1}, not a string", survey.replace(b'"imgName":', b'"imgName":{"a":1},"x":', 1))
    case(labels, os.fsdecode(stem.encode() + b"\xfe.json"), "file name is not valid UTF-8", survey)
    os.symlink("/dev/zero", labels / f"{stem}9.json")
    case(labels, f"{stem}9.json", "not a regular file")
    return cases


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_input")
    generate(root / "raw", GeneratorConfig(scale=0.005, seed=21, width=96, height=128, workers=1), log=lambda _: None)
    cases = plant(root / "raw")
    defs = build_definitions(root, SegmentationResource(model_home=str(root / "no_models")))
    with dg.instance_for_test() as instance:
        result = dg.materialize(list(defs.assets), selection=STAGE, resources=defs.resources, instance=instance,
                                tags=IMAGE_RUN_TAGS, raise_on_error=False)
    return root, defs, result, cases


def test_no_bad_file_fails_a_step(corpus):
    _, _, result, _ = corpus
    assert result.success


def test_each_case_ends_where_the_readme_says(corpus):
    _, defs, _, cases = corpus
    rows = {(f, n) for f, n in zip(defs.load_asset_value("image_table").split.map(IMAGE_FOLDERS),
                                    defs.load_asset_value("image_table").file_name)}
    rows |= {(LABEL_FOLDERS[s], n) for s, n in zip(defs.load_asset_value("label_table").split,
                                                    defs.load_asset_value("label_table").file_name)}
    quarantine = {(q.folder, q.file_name): q.reason for q in
                  [*defs.load_asset_value("image_quarantine").itertuples(), *defs.load_asset_value("label_quarantine").itertuples()]}
    for case in cases:
        key = (case["folder"], shown_name(case["name"]))
        if case["expect"] == "row":
            assert key in rows and key not in quarantine, case
        else:
            assert case["expect"] in quarantine.get(key, ""), (case, quarantine.get(key))


def test_every_folder_entry_is_a_row_or_a_quarantine_row(corpus):
    root, defs, _, _ = corpus
    images, labels = defs.load_asset_value("image_table"), defs.load_asset_value("label_table")
    quarantine = [defs.load_asset_value("image_quarantine"), defs.load_asset_value("label_quarantine")]
    for split, folder in [*IMAGE_FOLDERS.items(), *LABEL_FOLDERS.items()]:
        table = images if folder in IMAGE_FOLDERS.values() else labels
        entries = set(map(shown_name, os.listdir(root / "raw" / folder)))  # as a table holds a name
        accounted = set(table[table.split == split].file_name) | {n for q in quarantine for n in q[q.folder == folder].file_name}
        assert entries == accounted, folder
        assert len(entries) == (table.split == split).sum() + sum((q.folder == folder).sum() for q in quarantine)


def test_accepted_odd_images_go_through_the_image_stage_upright(corpus):
    _, defs, _, _ = corpus
    table = defs.load_asset_value("image_table").set_index("file_name")
    sideways = table.loc["W_90002_50_classic_W.jpg"]
    assert (sideways.orientation, sideways.width, sideways.height) == (8, 96, 128)  # as displayed
    crops = defs.load_asset_value("cropped_images").set_index("file_name")
    box = crops.loc["W_90002_50_classic_W.jpg"]
    assert box.bbox_h > 3 * box.bbox_w  # the figure stands: rotated upright before segmentation
    image_set = defs.load_asset_value("image_set")
    assert {"W_90001_50_classic_W.jpg", LONG, "W_90010_50_classic_W.jpg"} <= set(image_set.file_name)
