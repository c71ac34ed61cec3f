"""The generator's image plan: how many images of each class in each split, their names and looks.

Everything here is decided from (scale, seed) alone, before any pixel or JSON is written, so that
the ground truth the tests compare against comes from the plan, not from re-reading the files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.tables.vocabulary import SEED_IMAGE_COUNTS, SEED_TOTALS, STYLE_ERA
from .looks import draw_look
from .wardrobe import OUTFIT_COLUMNS

MIN_IMAGES_PER_CLASS_SPLIT = 2
ID_SPACE = 100_000  # imageIDs are 5 digits
T_PREFIX_RATE = 0.15  # share of images whose name starts with T (the rest W)
MISSPELLING_RATE = 0.3  # share of hippie images written "hippee", as in the real file names
ID_REUSE_RATE = 0.005  # images that reuse another image's ID with other attributes


@dataclass(frozen=True)
class ClassCounts:
    train: int
    validation: int
    validation_in_training: int  # validation files that are copies of training files


def largest_remainder(quotas: dict[str, float], total: int) -> dict[str, int]:
    """Round quotas to integers that add up to ``total`` (Hamilton's method, ties by key)."""
    floors = {k: math.floor(q) for k, q in quotas.items()}
    short = total - sum(floors.values())
    order = sorted(quotas, key=lambda k: (-(quotas[k] - floors[k]), k))
    for k in order[: max(short, 0)]:
        floors[k] += 1
    return floors


def image_count_plan(scale: float) -> dict[str, ClassCounts]:
    """Images per class and split; at scale 1 exactly the seed's tables (4,070 / 951, 529 copied)."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    train = {c: max(MIN_IMAGES_PER_CLASS_SPLIT, round(t * scale)) for c, (t, _) in SEED_IMAGE_COUNTS.items()}
    val = {c: max(MIN_IMAGES_PER_CLASS_SPLIT, round(v * scale)) for c, (_, v) in SEED_IMAGE_COUNTS.items()}
    ratio = SEED_TOTALS["validation_images_in_training"] / sum(v for _, v in SEED_IMAGE_COUNTS.values())
    copied = largest_remainder({c: val[c] * ratio for c in val}, round(sum(val.values()) * ratio))
    # Every class keeps at least one copied and one unseen validation image, so both the
    # "official" and the "unseen" accuracy exist for every class.
    copied = {c: min(max(n, 1), val[c] - 1, train[c]) for c, n in copied.items()}
    return {c: ClassCounts(train[c], val[c], copied[c]) for c in SEED_IMAGE_COUNTS}


def image_name(prefix: str, image_id: int, era: str, style_raw: str, sex: str) -> str:
    return f"{prefix}_{image_id:05d}_{era}_{style_raw}_{sex}.jpg"


def plan_images(scale: float, rng: np.random.Generator, dresser=None) -> pd.DataFrame:
    """One row per image file of both splits, with the picture it shows and the picture's look.

    Columns: split, file_name, prefix, image_id, era, style, style_raw, sex, class_label,
    picture (key of the rendered picture; copies share it), copy_of_train (validation file that
    is a copy of a training file by name and content), content_copy (validation file whose
    content equals a training picture under another name), plus the look columns of ``draw_look``
    and, in photo mode (a ``wardrobe.Dresser``), the outfit's product photos and attributes.
    """
    look_columns = draw_look.columns + (OUTFIT_COLUMNS if dresser else ())
    counts = image_count_plan(scale)
    free_ids = list(rng.permutation(ID_SPACE))
    rows: list[dict] = []
    for cls, cc in counts.items():
        style, sex = cls.rsplit("_", 1)
        n_unique_val = cc.validation - cc.validation_in_training
        for split, n in (("Train", cc.train), ("Validation", n_unique_val)):
            for _ in range(n):
                image_id = int(free_ids.pop())
                prefix = "T" if rng.random() < T_PREFIX_RATE else "W"
                style_raw = "hippee" if style == "hippie" and rng.random() < MISSPELLING_RATE else style
                era = STYLE_ERA[style]
                rows.append(dict(
                    split=split, prefix=prefix, image_id=image_id, era=era, style=style,
                    style_raw=style_raw, sex=sex, class_label=cls,
                    file_name=image_name(prefix, image_id, era, style_raw, sex),
                    copy_of_train=False, content_copy=False, **draw_look(style, sex, rng),
                    **(dresser.outfit(style, sex, rng) if dresser else {}),
                ))
    images = pd.DataFrame(rows)
    images["picture"] = images["file_name"]
    images = _reuse_ids(images, rng, free_ids)

    # Validation copies of training files: same name, same bytes.
    train = images[images.split == "Train"]
    copies = []
    for cls, cc in counts.items():
        pool = train[train.class_label == cls]
        picked = pool.iloc[rng.choice(len(pool), size=cc.validation_in_training, replace=False)]
        copies.append(picked.assign(split="Validation", copy_of_train=True))
    images = pd.concat([images, *copies], ignore_index=True)

    # A few validation pictures that equal a training picture under another name (found only by
    # content): they replace unseen validation images of the same class, keeping the counts.
    n_content = max(1, round(10 * scale))
    unseen = images[(images.split == "Validation") & ~images.copy_of_train]
    for idx in unseen.index[rng.choice(len(unseen), size=n_content, replace=False)]:
        same_class = train[train.class_label == images.at[idx, "class_label"]]
        source = same_class.iloc[int(rng.integers(len(same_class)))]
        for col in look_columns:
            images.at[idx, col] = source[col]
        images.at[idx, "picture"] = source["picture"]
        images.at[idx, "content_copy"] = True
    return images.sort_values(["split", "file_name"], ignore_index=True)


def _reuse_ids(images: pd.DataFrame, rng: np.random.Generator, free_ids: list) -> pd.DataFrame:
    """Give a few images the ID of another image with other attributes (T_00004_90_hiphop_M vs
    W_00004_50_ivy_M in the real data): the ID alone is not a key."""
    n = max(1, round(ID_REUSE_RATE * len(images)))
    picks = rng.choice(len(images), size=2 * n, replace=False)
    for a, b in zip(picks[:n], picks[n:]):
        donor, taker = images.iloc[a], images.index[b]
        if images.at[taker, "class_label"] == donor["class_label"]:
            continue
        images.at[taker, "image_id"] = donor["image_id"]
        images.at[taker, "prefix"] = "T" if donor["prefix"] == "W" else "W"
        row = images.loc[taker]
        images.at[taker, "file_name"] = image_name(row.prefix, row.image_id, row.era, row.style_raw, row.sex)
        images.at[taker, "picture"] = images.at[taker, "file_name"]
    return images
