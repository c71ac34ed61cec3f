"""Product catalogue (seeds 002–004): labels joined to images, refined classes, label balance."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

LEVELS = ("masterCategory", "subCategory", "articleType", "Class")


LEVELS = ("masterCategory", "subCategory", "articleType", "Class")  # the label levels a classifier can learn


def load_styles(csv: Path) -> pd.DataFrame:
    styles = pd.read_csv(csv)
    missing = {"id", "masterCategory", "subCategory", "articleType"} - set(styles.columns)
    if missing:
        raise ValueError(f"{csv}: missing columns {sorted(missing)}")
    return styles


def product_table(styles: pd.DataFrame, image_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(products with an image, labels whose image is missing). Images without a label row are
    returned in the second table too (reason column), so nothing disappears unreported."""
    images = {int(p.stem): p for p in image_dir.glob("*.jpg") if p.stem.isdigit()}
    has_image = styles.id.isin(images)
    table = styles[has_image].assign(image=lambda d: d.id.map(lambda i: str(images[i]))).sort_values("id", ignore_index=True)
    without_image = styles[~has_image][["id", "masterCategory", "subCategory", "articleType"]].assign(
        reason="label row without an image")
    unlabelled = sorted(set(images) - set(styles.id))
    orphans = pd.DataFrame({"id": unlabelled, "reason": "image without a label row"})
    return table, pd.concat([without_image, orphans], ignore_index=True)


@dataclass(frozen=True)
class ClassRules:
    """Seed 004's refined ``Class``: masterCategory, replaced by the subCategory when that has
    more than ``subcategory_min`` items, by the articleType for ``keep_article_types``; classes
    with fewer than ``min_class_count`` items are dropped."""

    subcategory_min: int = 105
    keep_article_types: tuple[str, ...] = ("Tshirts", "Shirts")
    min_class_count: int = 5


def refine_classes(products: pd.DataFrame, rules: ClassRules = ClassRules()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(products with a ``Class`` column, dropped rows with the reason)."""
    df = products.copy()
    df["Class"] = df.masterCategory
    sub_counts = df.subCategory.value_counts()
    big = df.subCategory.map(sub_counts) > rules.subcategory_min
    df.loc[big, "Class"] = df.loc[big, "subCategory"]
    keep = df.articleType.isin(rules.keep_article_types)
    df.loc[keep, "Class"] = df.loc[keep, "articleType"]
    counts = df.Class.value_counts()
    small = df.Class.map(counts) < rules.min_class_count
    dropped = df[small][["id", "Class"]].assign(reason=f"class has fewer than {rules.min_class_count} items")
    return df[~small].reset_index(drop=True), dropped.reset_index(drop=True)


def balance(labels: pd.Series) -> float:
    """H / log C of a categorical variable: 1 = perfectly balanced, 0 = one class only."""
    counts = labels.value_counts().to_numpy(dtype=float)
    if len(counts) < 2:
        return 0.0
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum() / math.log(len(counts)))


def balance_table(products: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame([{"level": lvl, "classes": int(products[lvl].nunique()), "items": int(products[lvl].notna().sum()),
                          "balance": balance(products[lvl].dropna())} for lvl in LEVELS if lvl in products])


def three_way_split(labels: np.ndarray, seed: int = 42, fractions: tuple[float, float] = (0.15, 0.15)):
    """Stratified (train, validation, test) indices; validation picks the epoch, test is scored once."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    rest, test = train_test_split(idx, test_size=fractions[1], random_state=seed, stratify=labels)
    train, val = train_test_split(rest, test_size=fractions[0] / (1 - fractions[1]), random_state=seed,
                                  stratify=labels[rest])
    return np.sort(train), np.sort(val), np.sort(test)


def precision_at_k(neighbour_idx: np.ndarray, labels: np.ndarray) -> float:
    """Share of each item's neighbours that carry the item's label, averaged over items."""
    return float((labels[neighbour_idx] == labels[:, None]).mean())
