"""Smoke test: the whole graph on tiny data with planted faults, as `make run` runs it."""

import dagster as dg
import numpy as np

from fashion_assets.core.features import load_feature_matrix
from fashion_assets.definitions import build_definitions
from fashion_assets.resources import SegmentationResource

CONFIG = {"ops": {"style_classifier": {"config": {"image_size": 32, "epochs": 4, "samples_per_epoch": 256,
                                                  "batch_size": 16}},
                  "preference_models": {"config": {"autoencoder_epochs": 5}}}}


def test_the_whole_graph_on_tiny_data_with_faults(tiny_root, tmp_path):
    defs = build_definitions(tiny_root, SegmentationResource(model_home=str(tmp_path / "no_models")))
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("full_pipeline_job").execute_in_process(instance=instance, run_config=CONFIG)
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["image_set_complete"].passed and checks["style_classifier_beats_chance"].passed
    image_set = defs.load_asset_value("image_set")
    handle = result.output_for_node("feature_matrix")
    fm = load_feature_matrix(handle.path)
    assert fm.features.shape == (image_set.sha1.nunique(), 512) and len(fm.index) == len(image_set)
    neighbours = defs.load_asset_value("image_neighbours")
    assert (neighbours.sha1 != neighbours.neighbour_sha1).all()
    metrics = defs.load_asset_value("preference_metrics").set_index("method")
    valid = defs.load_asset_value("valid_labels")
    scored = valid[(valid.split == "Validation") & valid.jpg_name.isin(set(image_set[image_set.split == "Validation"].file_name))]
    assert metrics.loc["seed", "answers_all"] == len(scored)
    assert metrics.loc["copy_if_seen_else_majority", "accuracy_all"] >= metrics.loc["respondent_majority", "accuracy_all"]
    preds = defs.load_asset_value("preference_predictions")
    assert {"seed_score", "stacked_honest_predicted", "unseen", "actual"} <= set(preds.columns)
    assert np.isfinite(preds.stacked_honest_score).all()
