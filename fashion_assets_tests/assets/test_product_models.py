"""The product classifiers (scratch ResNet-18 and fine-tuned EfficientNet-Lite0) and their features
are artifacts; both register versions of one model, the champion the better of them on the
validation split; the features read the image size and normalisation from the champion's
checkpoint (no setting of their own), and recommendations never recommend the product itself."""


import dagster as dg
import pandas as pd

from fashion_assets.core.registry import Registry
from fashion_assets.definitions import build_definitions
from fashion_assets.cli.models import main as models_main
from fashion_assets.cli.summary import catalogue_comparison
from fashion_assets_tests import FIXTURES, efficientnet_weights_file

FIXTURE = FIXTURES / "fashion_products"


def test_product_classifier_beats_majority_and_recommendations_follow_its_handle(tmp_path, monkeypatch, capsys):
    defs = build_definitions(tmp_path, catalogue_root=FIXTURE)
    efficientnet_weights_file(tmp_path / "imagenet.pth")
    scratch = {"level": "masterCategory", "min_items": 10, "image_size": 32, "epochs": 8, "samples_per_epoch": 1024}
    config = {"ops": {"product_classifier": {"config": scratch}, "product_transfer_classifier": {"config": {
        **scratch, "epochs": 1, "samples_per_epoch": 128, "pretrained_weights": str(tmp_path / "imagenet.pth")}}}}
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("catalogue_job").execute_in_process(instance=instance, run_config=config)
        first = defs.load_asset_value("product_recommendations")
        # Recommendations alone again, from the stored features: identical.
        again = defs.resolve_job_def("catalogue_job").execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey("product_recommendations")])
        features = result.output_for_node("product_features")
        table = catalogue_comparison(instance)  # what `make catalogue` ends with
    assert result.success and again.success
    summary = result.asset_materializations_for_node("product_classifier")[0].metadata["summary"].value
    assert summary["accuracy"] > summary["majority_baseline"]
    handle = result.output_for_node("product_classifier")
    assert handle.settings["level"] == "masterCategory" and handle.settings["image_size"] == 32
    # The features come from the registered champion, which the gate let through.
    checks = {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}
    assert checks["product_classifier", "product_classifier_beats_majority"].passed
    champion = result.output_for_node("product_champion")
    assert champion.settings["level"] == "masterCategory" and champion.settings["image_size"] == 32
    assert features.settings["classifier_version"] == champion.version
    # Both networks registered versions of one model; the champion is the better on validation.
    registry = Registry(tmp_path / "mlflow")
    versions = registry.versions("product_classifier_masterCategory")
    assert sorted(v.tags["architecture"] for v in versions) == ["efficientnet_lite0", "resnet18"]
    assert len({v.tags["split_version"] for v in versions}) == 1  # the same splits
    best = max(float(v.tags["validation_accuracy"]) for v in versions
               if checks[v.tags["dagster_asset"], "product_classifier_beats_majority"].passed)
    (chosen,) = [v for v in versions if "champion" in v.aliases]
    assert champion.version.startswith(f"v{chosen.version}-") and float(chosen.tags["validation_accuracy"]) == best
    assert list(table.model) == ["product_classifier", "product_transfer_classifier"]
    assert table.set_index("version").champion.to_dict() == {v.version: "yes" if v is chosen else "no" for v in versions}
    transfer = result.asset_materializations_for_node("product_transfer_classifier")[0].metadata["summary"].value
    assert transfer["architecture"] == "efficientnet_lite0" and transfer["from"] == "pretrained (imagenet.pth)"
    recs = defs.load_asset_value("product_recommendations")
    pd.testing.assert_frame_equal(first, recs)
    assert (recs.id != recs.similar_id).all() and recs.groupby("id").size().eq(5).all()
    meta = again.asset_materializations_for_node("product_recommendations")[0].metadata
    assert meta["classifier_level"].value == "masterCategory"
    # The features group similar products: same-articleType neighbours well above picking at random.
    classes = defs.load_asset_value("product_classes")
    n = classes.articleType.value_counts()
    chance = float((n * (n - 1)).sum() / (len(classes) * (len(classes) - 1)))
    assert meta["precision_at_5_same_articleType"].value > 2 * chance
    assert (tmp_path / "reports" / "product_recommendations.png").exists()
    # Tracked and registered like the style classifier (a registered model per label level).
    (version,) = [v for v in versions if v.tags["architecture"] == "resnet18"]
    trained = result.asset_materializations_for_node("product_classifier")[0].metadata
    assert version.tags["dagster_run_id"] == result.run_id and trained["mlflow_run"].value == version.run_url()
    tracked = registry.client().get_run(version.run_id).data
    assert tracked.params["level"] == "masterCategory" and tracked.metrics["accuracy"] == summary["accuracy"]
    assert len(first) == 5 * classes.id.nunique()
    # The registry's command line names it the champion, and refuses a version that does not exist.
    monkeypatch.setenv("FASHION_ASSETS_DATA_ROOT", str(tmp_path))
    assert models_main(["--model", "product_classifier_masterCategory", "list"]) == 0
    assert f"version {chosen.version}" in capsys.readouterr().out.split("<- champion")[0]
    assert models_main(["--model", "product_classifier_masterCategory", "champion", "9"]) == 1
    assert "cannot make version 9 the champion" in capsys.readouterr().err
