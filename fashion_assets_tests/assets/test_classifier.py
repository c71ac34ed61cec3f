"""The classifier and the feature matrix as artifacts, materialized alone on a toy image set:
new data trains a new model whose figures are the ones reported; the feature matrix follows the
classifier's settings (image size, recipe) because it reads them from the handle."""

import json
from dataclasses import asdict
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from fashion_assets.assets.classifier import beats_chance, style_classifier
from fashion_assets.core.classifier.style import NETWORK, POOLED
from fashion_assets.assets.preferences import feature_matrix
from fashion_assets.assets.registry import champion_classifier
from fashion_assets.core.classifier.baselines import pooled_scores
from fashion_assets.core.classifier.training import load_classifier
from fashion_assets.core.classifier.inference import predict_logits
from fashion_assets.core.registry import CHAMPION as CHAMPION_ALIAS
from fashion_assets.core.registry import Registry
from fashion_assets.core.classifier.data import load_uint8, training_plan
from fashion_assets.io_managers import ArtifactIOManager, ArtifactStore
from fashion_assets.resources import ModelRegistryResource, TorchDeviceResource

CLASSES = ["bold_M", "ivy_M", "classic_W", "punk_W"]
COLOURS = [(200, 30, 30), (30, 160, 40), (30, 60, 200), (20, 20, 20)]


class Values(dg.IOManager):
    """Upstream tables handed to the asset under test (and its table outputs kept), in memory."""

    def __init__(self, values: dict):
        self.values = values

    def handle_output(self, context, obj):
        self.values[context.asset_key.to_user_string()] = obj

    def load_input(self, context):
        return self.values[context.asset_key.to_user_string()]


def toy_image_set(folder: Path, seed: int, per_class: int = 24, colours=COLOURS) -> dict:
    """A figure of one colour per class on white, as cropped files, and the tables around them."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for k, (label, colour) in enumerate(zip(CLASSES, colours)):
        for i in range(per_class):
            img = np.full((48, 48, 3), 255, np.uint8)
            top, left = rng.integers(2, 14), rng.integers(8, 24)
            img[top:top + 30, left:left + 14] = colour
            split = "Validation" if i < 4 else "Train"
            name = f"T_{seed:02d}{k}{i:02d}_50_{label.split('_')[0]}_{label[-1]}.jpg"
            Image.fromarray(img).save(folder / name)
            rows.append({"partition": f"{split}-0", "split": split, "file_name": name, "sha1": f"{seed}-{k}-{i}",
                         "class_label": label, "style_known": True, "crop": str(folder / name),
                         "crop_sha1": f"c{seed}-{k}-{i}", "size": 48, "backend": "grabcut"})
    images = pd.DataFrame(rows)
    train = images[images.split == "Train"]
    return {"image_set": images,
            "leakage_report": pd.DataFrame({"kind": ["image_same_name"], "file_name": [images.file_name.iloc[0]]}),
            "channel_stats": pd.DataFrame({"channel": list("RGB"), "mean": [0.8] * 3, "std": [0.3] * 3}),
            "training_plan": training_plan(train.class_label, target=40)}


TRAIN = {"recipe": "improved", "epochs": 4, "batch_size": 16, "image_size": 32, "samples_per_epoch": 192, "patience": 5}
SPECS = [dg.AssetSpec(k) for k in ("image_set", "leakage_report", "channel_stats", "training_plan")]


def run(values: dict, root: Path, instance, selection: list[str], **train):
    store = str(root / "artifacts")
    return dg.materialize(
        [style_classifier, champion_classifier, feature_matrix, *SPECS], instance=instance, selection=selection,
        raise_on_error=False,
        run_config={"ops": {"style_classifier": {"config": {**TRAIN, **train}}}} if "style_classifier" in selection else None,
        resources={"io_manager": dg.IOManagerDefinition.hardcoded_io_manager(Values(values)),
                   "artifact_io_manager": ArtifactIOManager(root=store), "artifact_store": ArtifactStore(root=store),
                   "torch_device": TorchDeviceResource(device="cpu"),
                   "model_registry": ModelRegistryResource(root=str(root / "mlflow"))})


def handle(root: Path, asset: str) -> dict:
    """The asset's stored handle as its consumers receive it (paths absolute)."""
    return asdict(ArtifactIOManager(root=str(root / "artifacts")).stored(dg.AssetKey(asset)))


def logs(instance, result) -> list[str]:
    return [e.user_message for e in instance.all_logs(result.run_id)]


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def test_new_data_trains_a_new_model_and_every_figure_is_its_own(tmp_path, instance):
    first = run(toy_image_set(tmp_path / "a", seed=1), tmp_path, instance, ["style_classifier"])
    a = first.asset_materializations_for_node("style_classifier")[0].metadata["summary"].value
    # New data: other images, and the colours swapped between classes (the old model is now wrong).
    data_b = toy_image_set(tmp_path / "b", seed=2, per_class=28, colours=COLOURS[::-1])
    second = run(data_b, tmp_path, instance, ["style_classifier"])
    assert second.success
    messages = logs(instance, second)
    assert "training afresh: no interrupted run to resume" in messages
    assert not any(m.startswith("resuming") for m in messages)
    b = second.asset_materializations_for_node("style_classifier")[0].metadata["summary"].value
    assert b["inputs_version"] != a["inputs_version"] and b["model_version"] != a["model_version"]
    assert b["epochs_run"] == TRAIN["epochs"] and b["validation_images"] == 4 * len(CLASSES)
    # The gate judges this model: its holdout figure, not a stored one.
    checks = {c.check_name: c for c in second.get_asset_check_evaluations()}
    check = checks["style_classifier_beats_chance"]
    assert check.metadata["holdout_accuracy"].value == b["holdout_accuracy"]
    # Its baselines were trained on the same split (judged on the same holdout images) and are
    # reported beside it; colour alone separates these toy classes, so the histogram baseline is
    # strong here and the check says whether the network beat it.
    hist = b["baselines"]["colour_histogram_logreg"]
    assert hist["holdout_images"] == b["holdout_images"] == b["baselines"]["majority_class"]["holdout_images"]
    assert hist["holdout_accuracy"] > 0.9 and b["baselines"]["majority_class"]["holdout_accuracy"] < 0.5
    vs = checks["style_classifier_beats_baseline"]
    assert vs.passed == (b["holdout_accuracy"] > hist["holdout_accuracy"])
    assert vs.metadata["best_baseline"].value == "colour_histogram_logreg"
    # The stored predictions are of the new validation images, by the new model.
    stored = handle(tmp_path, "style_classifier")
    predictions = pd.read_csv(Path(stored["path"]).parent / "validation_predictions.csv")
    assert set(predictions.file_name) == set(data_b["image_set"].query("split == 'Validation'").file_name)
    assert (predictions.predicted == predictions.class_label).mean() == pytest.approx(b["validation_accuracy"])
    compared = pd.read_csv(Path(stored["path"]).parent / "baselines.csv").set_index("model")
    assert compared.loc[NETWORK, "validation_accuracy"] == pytest.approx(b["validation_accuracy"])
    assert compared.validation_low.le(compared.validation_accuracy).all()
    assert compared.validation_high.ge(compared.validation_accuracy).all()
    # The product's classifier pools the network with the colour model; the checkpoint keeps the
    # colour model and the weight chosen on the holdout, and pooling its stored arrays again
    # gives the reported predictions.
    pooled = b["pooled"]
    assert compared.index[0] == POOLED and compared.loc[POOLED, "unseen_accuracy"] == pytest.approx(pooled["unseen_accuracy"])
    assert (predictions.predicted_pooled == predictions.class_label).mean() == pytest.approx(pooled["validation_accuracy"])
    ckpt = torch.load(stored["path"], map_location="cpu", weights_only=False)
    entry = ckpt["colour_expert"]
    assert entry["weight"] == pooled["network_weight"] == stored["settings"]["network_weight"]
    assert min(entry["holdout_log_loss"].values()) == entry["holdout_log_loss"][str(entry["weight"])]
    model, _ = load_classifier(stored["path"])
    val = data_b["image_set"].query("split == 'Validation'").sort_values("file_name")
    x = load_uint8(list(val.crop), TRAIN["image_size"])
    logits = predict_logits(model, x, ckpt["mean"], ckpt["std"], torch.device("cpu"), tta_flip=True).numpy()
    names = np.array(ckpt["class_names"])
    again = names[pooled_scores(logits, x, entry).argmax(1)]
    assert list(again) == list(predictions.set_index("file_name").loc[val.file_name, "predicted_pooled"])
    assert len(ckpt["history"]) <= TRAIN["epochs"] and ckpt["class_names"] == sorted(CLASSES)


def test_feature_matrix_follows_the_classifier_settings_set_in_one_place(tmp_path, instance):
    values = toy_image_set(tmp_path / "a", seed=3)
    for size, recipe in ((32, "improved"), (40, "seed")):
        result = run(values, tmp_path, instance, ["style_classifier", "champion_classifier", "feature_matrix"],
                     image_size=size, recipe=recipe)
        assert result.success
        classifier, champion = handle(tmp_path, "style_classifier"), handle(tmp_path, "champion_classifier")
        features = handle(tmp_path, "feature_matrix")
        assert classifier["settings"]["image_size"] == size and classifier["settings"]["recipe"] == recipe
        assert champion["settings"] == classifier["settings"]  # read from the registered checkpoint
        assert features["settings"]["image_size"] == size
        assert features["settings"]["classifier_version"] == champion["version"]
        data = np.load(features["path"])
        assert data["features"].shape == (len(values["image_set"]), 512)
    # Only the last two versions of each artifact are kept.
    assert len([p for p in (tmp_path / "artifacts" / "style_classifier").iterdir() if p.is_dir() and p.name != "work"]) <= 2


def test_one_feature_row_per_distinct_image(tmp_path, instance):
    values = toy_image_set(tmp_path / "a", seed=4)
    images = values["image_set"]
    # A validation copy of a training image (same content) shares its row; a validation image that
    # has a training image's name but other content gets its own.
    copy = images[images.split == "Train"].iloc[[0]].assign(split="Validation", partition="Validation-0")
    other = images[images.split == "Train"].iloc[[1]].assign(split="Validation", partition="Validation-0",
                                                             sha1="different-content", crop=images.crop.iloc[-1])
    values["image_set"] = pd.concat([images, copy, other], ignore_index=True)
    assert run(values, tmp_path, instance, ["style_classifier", "champion_classifier", "feature_matrix"]).success
    data = np.load(handle(tmp_path, "feature_matrix")["path"])
    index = pd.DataFrame({"split": data["split"], "file_name": data["file_name"], "row": data["row"]})
    assert data["features"].shape[0] == values["image_set"].sha1.nunique() == len(images) + 1
    row = index.set_index(["split", "file_name"]).row
    assert row[("Validation", copy.file_name.iloc[0])] == row[("Train", copy.file_name.iloc[0])]
    assert row[("Validation", other.file_name.iloc[0])] != row[("Train", other.file_name.iloc[0])]


def test_a_missing_artifact_is_a_clear_error(tmp_path, instance):
    values = toy_image_set(tmp_path / "a", seed=5)
    result = dg.materialize(
        [style_classifier, champion_classifier, feature_matrix, *SPECS], instance=instance, selection=["feature_matrix"],
        raise_on_error=False,
        resources={"io_manager": dg.IOManagerDefinition.hardcoded_io_manager(Values(values)),
                   "artifact_io_manager": ArtifactIOManager(root=str(tmp_path / "artifacts")),
                   "artifact_store": ArtifactStore(root=str(tmp_path / "artifacts")),
                   "torch_device": TorchDeviceResource(device="cpu"),
                   "model_registry": ModelRegistryResource(root=str(tmp_path / "mlflow"))})
    assert not result.success
    message = str(result.failure_data_for_node("feature_matrix").error)
    assert "champion_classifier has no stored artifact" in message and "materialize champion_classifier first" in message
    # And with no champion in the registry, the champion asset says what to do.
    result = run(values, tmp_path, instance, ["champion_classifier"])
    message = str(result.failure_data_for_node("champion_classifier").error)
    assert "no style_classifier version has the alias 'champion' yet" in message


def test_the_gate_fails_with_a_reason_when_there_is_nothing_to_judge():
    empty = beats_chance(float("nan"), classes=31, holdout_images=0)
    assert not empty.passed and "no holdout images" in empty.description
    assert beats_chance(0.2, classes=31, holdout_images=50).passed
    assert not beats_chance(0.02, classes=31, holdout_images=50).passed


def test_training_step_is_in_the_gpu_pool_with_a_gpu_request():
    spec = style_classifier.specs_by_key[dg.AssetKey("style_classifier")]
    assert style_classifier.op.pool == "gpu"
    k8s = style_classifier.op.tags["dagster-k8s/config"]
    k8s = json.loads(k8s) if isinstance(k8s, str) else k8s
    assert k8s["container_config"]["resources"]["limits"] == {"nvidia.com/gpu": "1"}
    assert spec.code_version


def test_every_training_is_tracked_and_registered_and_a_rollback_rebuilds_from_the_older_version(tmp_path, instance):
    values = toy_image_set(tmp_path / "a", seed=6)
    selection = ["style_classifier", "champion_classifier", "feature_matrix"]
    assert run(values, tmp_path, instance, selection).success
    features_v1 = np.load(handle(tmp_path, "feature_matrix")["path"])["features"]
    second = run(values, tmp_path, instance, selection, recipe="seed")
    assert second.success
    registry = Registry(tmp_path / "mlflow")
    v1, v2 = registry.versions("style_classifier")
    meta = second.asset_materializations_for_node("style_classifier")[0].metadata
    summary = meta["summary"].value
    # Tagged with the Dagster run and the version of its inputs; linked from the asset's metadata.
    assert v2.tags["dagster_run_id"] == second.run_id and v2.tags["inputs_version"] == summary["inputs_version"]
    assert meta["mlflow_run"].value == v2.run_url() and meta["registered_version"].value == 2
    # The MLflow run holds the config, every epoch's metrics, the reported figures, plots and the checkpoint.
    client = registry.client()
    tracked = client.get_run(v2.run_id)
    assert tracked.data.params["recipe"] == "seed" and tracked.data.params["epochs"] == str(TRAIN["epochs"])
    assert len(client.get_metric_history(v2.run_id, "holdout_accuracy")) == summary["epochs_run"]
    assert tracked.data.metrics["unseen_accuracy"] == pytest.approx(summary["unseen_accuracy"])
    assert "colour_histogram_logreg_holdout_accuracy" in tracked.data.metrics
    reports = {Path(f.path).name for f in client.list_artifacts(v2.run_id, "reports")}
    assert {"confusion_matrix.png", "baselines.csv", "validation_predictions.csv"} <= reports
    assert v2.checkpoint.exists() and CHAMPION_ALIAS in v2.aliases and CHAMPION_ALIAS not in v1.aliases
    # Rollback: the alias back to version 1; the downstream assets rebuild from it.
    registry.set_champion("style_classifier", 1)
    assert run(values, tmp_path, instance, ["champion_classifier", "feature_matrix"]).success
    assert handle(tmp_path, "champion_classifier")["version"].startswith("v1-")
    assert handle(tmp_path, "feature_matrix")["settings"]["classifier_version"].startswith("v1-")
    np.testing.assert_allclose(np.load(handle(tmp_path, "feature_matrix")["path"])["features"], features_v1, atol=1e-6)


def test_a_version_that_fails_its_gate_is_registered_but_does_not_become_the_champion(tmp_path, instance):
    values = toy_image_set(tmp_path / "a", seed=7)
    assert run(values, tmp_path, instance, ["style_classifier", "champion_classifier"]).success
    # Every image the same picture: the network cannot beat chance on the (balanced) holdout.
    same = values["image_set"].crop.iloc[0]
    blank = {**values, "image_set": values["image_set"].assign(crop=same, crop_sha1="same")}
    failed = run(blank, tmp_path, instance, ["style_classifier", "champion_classifier"])
    checks = {c.check_name: c for c in failed.get_asset_check_evaluations()}
    assert not checks["style_classifier_beats_chance"].passed
    assert not failed.asset_materializations_for_node("champion_classifier")  # the blocking check stopped it
    registry = Registry(tmp_path / "mlflow")
    assert [v.version for v in registry.versions("style_classifier")] == [1, 2]
    assert registry.champion("style_classifier").version == 1
    assert "it failed style_classifier_beats_chance, so the champion stays version 1" in " ".join(
        m for m in logs(instance, failed) if m)
