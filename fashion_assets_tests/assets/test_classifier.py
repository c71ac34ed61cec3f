"""The classifier job over the tiny dataset: trains, checkpoints, reports official and unseen accuracy."""

import json
from pathlib import Path

import torch

from fashion_assets.core.vocabulary import CLASS_LABELS

def test_classifier_job_trains_and_reports_both_protocols(classifier_run):
    defs, result = classifier_run
    meta = result.asset_materializations_for_node("style_classifier")[0].metadata
    summary = meta["summary"].value
    assert 0 <= summary["validation_accuracy"] <= 1 and 0 <= summary["unseen_accuracy"] <= 1
    assert summary["unseen_images"] < summary["validation_images"]  # the copied images are set apart
    assert summary["seed_protocol_validation_accuracy"] is not None
    table = meta["per_class"].value
    assert all(c in table for c in CLASS_LABELS)
    ckpt = torch.load(Path(meta["checkpoint"].value), map_location="cpu", weights_only=False)
    assert ckpt["class_names"] == sorted(CLASS_LABELS)  # LabelEncoder order
    plan = defs.load_asset_value("training_plan")
    assert list(plan.class_label) == sorted(CLASS_LABELS)
    stats = defs.load_asset_value("channel_stats")
    assert ((stats["mean"] > 0.3) & (stats["mean"] < 1) & (stats["std"] > 0)).all()
    checks = {e.check_name for e in result.get_asset_check_evaluations()}
    assert "style_classifier_beats_chance" in checks


def test_training_step_is_in_the_gpu_pool_with_a_gpu_request(images_run):
    defs, _ = images_run
    node = defs.resolve_job_def("classifier_job").graph.node_named("style_classifier")
    assert node.definition.pool == "gpu"
    k8s = json.loads(node.definition.tags["dagster-k8s/config"])  # tags are stored as JSON strings
    limits = k8s["container_config"]["resources"]["limits"]
    assert limits == {"nvidia.com/gpu": "1"}
