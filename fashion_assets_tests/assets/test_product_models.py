from pathlib import Path

import dagster as dg
import pandas as pd

from fashion_assets.definitions import build_definitions

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "fashion_products"


def test_product_classifier_beats_majority_and_recommendations_exclude_the_query(tmp_path):
    defs = build_definitions(tmp_path, catalogue_root=FIXTURE)
    config = {"ops": {"product_classifier": {"config": {"level": "masterCategory", "min_items": 10, "image_size": 32,
                                                        "epochs": 8, "samples_per_epoch": 1024}},
                      "product_recommendations": {"config": {"level": "masterCategory", "image_size": 32}}}}
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("catalogue_job").execute_in_process(instance=instance, run_config=config)
        first = defs.load_asset_value("product_recommendations")
        # Recommendations alone again, from the same checkpoint: identical.
        again = defs.resolve_job_def("catalogue_job").execute_in_process(
            instance=instance, run_config={"ops": {"product_recommendations": config["ops"]["product_recommendations"]}},
            asset_selection=[dg.AssetKey("product_recommendations")])
    assert result.success and again.success
    summary = result.asset_materializations_for_node("product_classifier")[0].metadata["summary"].value
    assert summary["accuracy"] > summary["majority_baseline"]
    assert 0 <= summary["f1_macro"] <= summary["accuracy"] + 0.5
    recs = defs.load_asset_value("product_recommendations")
    assert (recs.id != recs.similar_id).all()
    assert recs.groupby("id").size().eq(5).all()
    pd.testing.assert_frame_equal(first, recs)
    meta = again.asset_materializations_for_node("product_recommendations")[0].metadata
    assert 0 <= meta["precision_at_5_same_articleType"].value <= 1
    assert (tmp_path / "reports" / "product_recommendations.png").exists()
    assert len(first) == 5 * defs.load_asset_value("product_classes").id.nunique()
