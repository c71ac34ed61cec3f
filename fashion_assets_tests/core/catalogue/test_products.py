import math
from pathlib import Path

import pandas as pd
import pytest

from fashion_assets.core.catalogue.products import ClassRules, balance, load_styles, product_table, refine_classes
from fashion_assets_tests import FIXTURES

FIXTURE = FIXTURES / "fashion_products"


def test_product_table_reports_labels_without_images():
    styles = load_styles(FIXTURE / "styles.csv")
    table, missing = product_table(styles, FIXTURE / "images")
    assert len(table) == len(list((FIXTURE / "images").glob("*.jpg")))
    assert len(table) + (missing.reason == "label row without an image").sum() == len(styles)
    assert table.image.map(lambda p: Path(p).exists()).all()


def test_class_rules_follow_seed_004():
    df = pd.DataFrame({
        "id": range(20),
        "masterCategory": ["Apparel"] * 14 + ["Footwear"] * 4 + ["Free Items"] * 2,
        "subCategory": ["Topwear"] * 12 + ["Bottomwear"] * 2 + ["Shoes"] * 4 + ["Free Gifts"] * 2,
        "articleType": ["Tshirts"] * 6 + ["Shirts"] * 3 + ["Tops"] * 3 + ["Jeans"] * 2 + ["Casual Shoes"] * 4 + ["Free"] * 2,
    })
    classes, dropped = refine_classes(df, ClassRules(subcategory_min=5, keep_article_types=("Tshirts", "Shirts"), min_class_count=3))
    got = classes.set_index("id").Class
    assert got[0] == "Tshirts" and got[6] == "Shirts"  # kept articleTypes
    assert got[9] == "Topwear"  # Tops: its subCategory has > 5 items
    assert set(dropped.Class) == {"Apparel", "Free Items"}  # Bottomwear→Apparel (2 items) and Free Items (2) < 3
    assert got[14] == "Footwear"  # Shoes has only 4 (not > 5): stays masterCategory


def test_balance_by_hand():
    # counts 2, 1, 1: H = -(0.5 ln 0.5 + 2 · 0.25 ln 0.25), divided by ln 3
    expected = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25)) / math.log(3)
    assert balance(pd.Series(["a", "a", "b", "c"])) == pytest.approx(expected)
    assert balance(pd.Series(["a", "b", "c"])) == pytest.approx(1.0)
    assert balance(pd.Series(["a", "a"])) == 0.0
