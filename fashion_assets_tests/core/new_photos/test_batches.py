"""New-photo batches: filing loose photos, listing batches, and the per-photo rankings."""

import os
import time

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax

from fashion_assets.core.new_photos.contact_sheet import contact_sheet, markdown_preview
from fashion_assets.core.preferences.features import nearest
from fashion_assets.core.new_photos.batches import batches, file_loose_photos, list_batch, loose_photos, top_classes

OLD = time.time() - 3600


def touch(path, data=b"x", mtime=OLD):
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


def test_loose_photos_are_filed_into_a_new_batch_whatever_their_mtimes(tmp_path):
    touch(tmp_path / "a.jpg")
    touch(tmp_path / "b.png", mtime=time.time() + 365 * 86400)  # a wrong camera clock: filed all the same
    touch(tmp_path / ".hidden")
    assert set(loose_photos(tmp_path)) == {"a.jpg", "b.png"}
    batch, moved = file_loose_photos(tmp_path)
    assert moved == 2 and batch.startswith("batch-")
    assert sorted(p.name for p in (tmp_path / batch).iterdir()) == ["a.jpg", "b.png"]
    assert (tmp_path / ".hidden").exists() and not loose_photos(tmp_path)
    # Only the named ones (the sensor names those that stopped changing); a second batch in the
    # same second gets its own folder, nothing is overwritten.
    touch(tmp_path / "c.jpg")
    touch(tmp_path / "copying.jpg")
    again, moved = file_loose_photos(tmp_path, ["c.jpg"], now=time.mktime(time.strptime(batch[6:], "%Y%m%d-%H%M%S"))
                                     - time.timezone + 0.5)
    assert moved == 1 and again not in (None, batch) and (tmp_path / again / "c.jpg").exists()
    assert (tmp_path / "copying.jpg").exists()
    assert file_loose_photos(tmp_path / "missing") == (None, 0)


def test_a_batch_changes_when_a_photo_is_added_and_unusable_folder_names_are_reported(tmp_path):
    (tmp_path / "spring").mkdir()
    touch(tmp_path / "spring" / "a.jpg")
    (tmp_path / "bad, name").mkdir()
    (tmp_path / ".trash").mkdir()
    found, unusable = batches(tmp_path)
    assert [b.name for b in found] == ["spring"] and found[0].files == 1
    assert len(unusable) == 1 and unusable[0].startswith("bad, name")
    touch(tmp_path / "spring" / "b.jpg")
    (after,), _ = batches(tmp_path)
    assert after.digest != found[0].digest and after.files == 2


def test_listing_a_batch_hashes_the_photos_and_reports_what_it_cannot_read(tmp_path):
    touch(tmp_path / "a.jpg", b"abc")
    (tmp_path / "nested").mkdir()
    rows, unreadable = list_batch(tmp_path)
    assert list(rows.file_name) == ["a.jpg"] and rows.sha1[0] == "a9993e364706816aba3e25717850c26c9cd0d89d"
    assert list(unreadable.file_name) == ["nested"] and "not a file" in unreadable.reason[0]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list_batch(tmp_path / "gone")


def test_top_classes_are_the_most_probable_in_order():
    logits = np.array([[0.0, 2.0, 1.0, -1.0], [3.0, 0.0, 0.0, 0.0]])
    top = top_classes(logits, ["w", "x", "y", "z"], k=3)
    assert list(top.class_1) == ["x", "w"] and list(top.class_2) == ["y", "x"]
    p = softmax(logits, axis=1)
    np.testing.assert_allclose(top.probability_1, [p[0, 1], p[1, 0]])
    assert (top.probability_1 >= top.probability_2).all() and (top.probability_2 >= top.probability_3).all()
    assert list(top_classes(logits, ["w", "x", "y", "z"], k=9).columns)[-1] == "probability_4"


def test_nearest_is_the_brute_force_cosine_ranking():
    rng = np.random.default_rng(3)
    base, queries = rng.normal(size=(50, 8)), rng.normal(size=(4, 8))
    idx, sim = nearest(queries, base, 5)
    cos = (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ (base / np.linalg.norm(base, axis=1, keepdims=True)).T
    np.testing.assert_array_equal(idx, np.argsort(-cos, axis=1)[:, :5])
    np.testing.assert_allclose(sim, np.sort(cos, axis=1)[:, ::-1][:, :5])
    assert nearest(queries, base[:0], 5)[0].shape == (4, 0)


def test_the_contact_sheet_shows_every_photo_and_escapes_what_users_named(tmp_path):
    from PIL import Image

    Image.new("RGB", (40, 60), "red").save(tmp_path / "p.jpg")
    photos = pd.DataFrame({"file_name": ["<b>p.jpg"], "crop": [str(tmp_path / "p.jpg")], "class_1": ["ivy_M"],
                           "probability_1": [0.62]})
    matches = pd.DataFrame({"file_name": ["<b>p.jpg"] * 2, "kind": ["neighbour", "respondent"], "rank": [1, 1],
                            "match": ["T_1.jpg", "R42"], "score": [0.91, 0.55], "class_label": ["ivy_M", None],
                            "crop": [str(tmp_path / "missing.jpg"), None]})
    quarantine = pd.DataFrame({"file_name": ["notes.txt"], "stage": ["segmentation"], "reason": ["cannot decode image"]})
    page = contact_sheet("batch-1", photos, matches, quarantine, ["made by a test"])
    assert "&lt;b&gt;p.jpg" in page and "<b>p.jpg" not in page
    assert "ivy_M 62%" in page and "R42 (0.550)" in page and "data:image/jpeg;base64," in page
    assert "(file missing)" in page and "cannot decode image" in page and "made by a test" in page
    preview = markdown_preview(photos, matches)
    assert "![<b>p.jpg](data:image/jpeg;base64," in preview and "T_1.jpg (ivy_M)" in preview and "R42 (0.55)" in preview
    assert "1 more" in markdown_preview(pd.concat([photos, photos.assign(file_name="q.jpg")]), matches, limit=1)
