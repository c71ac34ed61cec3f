"""The catalogue tables over real product photos (a 328-row fixture): no network is trained here."""

from pathlib import Path

import dagster as dg

from fashion_assets.definitions import build_definitions
from fashion_assets_tests import FIXTURES

FIXTURE = FIXTURES / "fashion_products"
TABLES = ["product_table", "products_without_images", "product_classes", "label_balance"]


def test_catalogue_tables_on_real_photos(tmp_path):
    defs = build_definitions(tmp_path, catalogue_root=FIXTURE)
    with dg.instance_for_test() as instance:
        result = dg.materialize(list(defs.assets), selection=TABLES, resources=defs.resources, instance=instance)
    assert result.success
    assert {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()} == set(TABLES)
    products = defs.load_asset_value("product_table")
    missing = defs.load_asset_value("products_without_images")
    assert len(products) == 316 and (missing.reason == "label row without an image").sum() == 12
    classes = defs.load_asset_value("product_classes")
    assert {"Tshirts", "Shirts"} <= set(classes.Class)
    assert classes.Class.value_counts().min() >= 5
    balance = defs.load_asset_value("label_balance").set_index("level")
    assert 0 < balance.loc["Class", "balance"] < 1  # neither one class nor perfectly even on this fixture
    check = result.get_asset_check_evaluations()[0]
    assert check.check_name == "products_without_images_reported" and check.passed
