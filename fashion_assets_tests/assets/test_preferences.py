"""The preferences job over the tiny dataset: features for every image, neighbours, every method."""

import dagster as dg
import numpy as np


def test_preferences_job_compares_every_method(classifier_run, tiny_root):
    defs, _ = classifier_run
    config = {"ops": {"feature_matrix": {"config": {"image_size": 32}},
                      "preference_models": {"config": {"autoencoder_epochs": 5}}}}
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("preferences_job").execute_in_process(instance=instance, run_config=config)
    assert result.success
    features = np.load(tiny_root / "features" / "feature_matrix.npz")
    images = defs.load_asset_value("cropped_images")
    assert features["features"].shape == (images.file_name.nunique(), 512)
    neighbours = defs.load_asset_value("image_neighbours")
    assert (neighbours.file_name != neighbours.neighbour).all()
    metrics = defs.load_asset_value("preference_metrics").set_index("method")
    valid = defs.load_asset_value("valid_labels")
    assert metrics.loc["seed", "answers_all"] == (valid.split == "Validation").sum()
    assert metrics.loc["copy_if_seen_else_majority", "accuracy_all"] >= metrics.loc["respondent_majority", "accuracy_all"] - 1e-9
    preds = defs.load_asset_value("preference_predictions")
    assert {"seed_score", "stacked_honest_predicted", "unseen", "actual"} <= set(preds.columns)
