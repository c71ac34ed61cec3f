from pathlib import Path

import dagster as dg

from fashion_assets.definitions import build_definitions

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "fashion_products"


def test_catalogue_job_on_real_photos(tmp_path):
    defs = build_definitions(tmp_path, catalogue_root=FIXTURE)
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("catalogue_job").execute_in_process(instance=instance)
    assert result.success
    products = defs.load_asset_value("product_table")
    missing = defs.load_asset_value("products_without_images")
    assert len(products) == 316 and (missing.reason == "label row without an image").sum() == 12
    classes = defs.load_asset_value("product_classes")
    assert {"Tshirts", "Shirts"} <= set(classes.Class)
    assert classes.Class.value_counts().min() >= 5
    balance = defs.load_asset_value("label_balance").set_index("level")
    assert 0 < balance.loc["Class", "balance"] <= 1
    check = result.get_asset_check_evaluations()[0]
    assert check.check_name == "products_without_images_reported" and check.passed
