"""Accounting for the image stage: every image of the image table ends cropped or quarantined."""

from __future__ import annotations

import pandas as pd

IMAGE_SET_COLUMNS = ["partition", "split", "file_name", "sha1", "class_label", "style_known", "crop", "crop_sha1",
                     "size", "backend"]


def account_images(image_table: pd.DataFrame, segmentations: pd.DataFrame, cropped: pd.DataFrame,
                   quarantine: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(usable images, problems) for ``image_table`` (with a ``partition`` column).

    An image is usable when a crop of its current content (``sha1``) was made from its current
    segmentation (``segmentations``: source/source_sha1 per image); it is accounted for when it
    is usable or quarantined for its current content. Anything else is a problem: not segmented
    or not cropped yet (a partition not materialized or older than its inputs), or a crop of an
    image that no longer exists.
    """
    key = ["partition", "split", "file_name", "sha1"]
    table = image_table[key + ["class_label", "style_known"]]
    seg = segmentations[key + ["source_sha1", "backend"]]
    crops = cropped[key + ["source_sha1", "output", "output_sha1", "size"]].rename(
        columns={"output": "crop", "output_sha1": "crop_sha1"})
    current = table.merge(seg, on=key, how="left").merge(crops, on=key + ["source_sha1"], how="left")
    quarantined = quarantine[key].drop_duplicates().assign(quarantined=True)
    current = current.merge(quarantined, on=key, how="left")
    current["quarantined"] = current["quarantined"].astype("boolean").fillna(False).astype(bool)
    usable = current.crop.notna() & ~current.quarantined
    problem = pd.Series("", index=current.index)
    problem[current.quarantined] = "quarantined"
    problem[~current.quarantined & current.source_sha1.isna()] = "not segmented for its current content"
    problem[~current.quarantined & current.source_sha1.notna() & current.crop.isna()] = \
        "not cropped from its current segmentation"
    problems = current.loc[problem != "", key].assign(problem=problem[problem != ""])
    gone = cropped[key].merge(table[key], on=key, how="left", indicator=True)
    gone = gone[gone._merge == "left_only"].drop(columns="_merge").assign(problem="cropped, but no longer in image_table")
    images = current[usable][IMAGE_SET_COLUMNS].sort_values(["split", "file_name"], ignore_index=True)
    images["size"] = images["size"].astype(int)
    return images, pd.concat([problems, gone], ignore_index=True)
