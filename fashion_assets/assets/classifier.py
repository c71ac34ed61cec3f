"""Stage 1-2 model: channel statistics, the training plan, the ResNet-18 sex&style classifier and
its honest evaluation (holdout-selected; official validation scored once; unseen part apart).

The classifier is an artifact: its checkpoint and reports go into a version folder of the
artifact store, and downstream assets receive the handle (image size, classes, normalisation
are read from it). Training resumes only an interrupted run on the same inputs and settings.
"""

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from ..core.common.artifacts import Artifact, content_version
from ..core.common.atomic import write_bytes
from ..core.images.batch import sha1_of
from ..core.common.plots import markdown_image
from ..core.tables.vocabulary import CLASS_LABELS
from ..io_managers import ArtifactStore
from ..resources import ModelRegistryResource, TorchDeviceResource
from .metadata import markdown, table_output

GROUP = "classifier"
# GPU steps run one at a time (pool "gpu") and ask Kubernetes for a GPU when run there.
GPU_TAGS = {"dagster-k8s/config": {"container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"}}}}}
SEED_MEAN, SEED_STD = [0.8752, 0.8656, 0.8636], [0.2598, 0.2734, 0.2761]
ARTIFACT = "artifact_io_manager"
# Statistics and plan follow the image set; training itself is left to the user (it is marked
# unsynced when its inputs change), so no automation condition on the classifier.
EAGER = dg.AutomationCondition.eager()


def known(image_set: pd.DataFrame, split: str) -> pd.DataFrame:
    """Images of one split with a known class, in a stable order."""
    rows = image_set[image_set.style_known & (image_set.split == split)]
    return rows.sort_values("file_name", ignore_index=True)


@dg.asset(group_name=GROUP, kinds={"duckdb", "pytorch"}, code_version="2", automation_condition=EAGER)
def channel_stats(context: dg.AssetExecutionContext, image_set: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """Per-channel mean and std over the cropped training images (one vectorised pass, in chunks)."""
    from ..core.classifier.data import channel_stats_of_files

    train = known(image_set, "Train")
    mean, std = channel_stats_of_files(list(train.crop))
    df = pd.DataFrame({"channel": ["R", "G", "B"], "mean": mean, "std": std, "seed_mean": SEED_MEAN, "seed_std": SEED_STD})
    context.log.info(f"channel stats of {len(train)} images: mean {np.round(mean, 4)}, std {np.round(std, 4)}")
    return table_output(df, images=len(train), table=dg.MetadataValue.md(markdown(df)))


class TrainingPlanConfig(dg.Config):
    target_per_class: int = Field(default=2000, ge=1, description="Samples per class the augmentation aims at (the seed's 2,000).")


@dg.asset(group_name=GROUP, kinds={"duckdb"}, code_version="2", automation_condition=EAGER)
def training_plan(config: TrainingPlanConfig, image_set: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """Per class: training images, the seed's augmentation multiplier, and the samples that gives."""
    from ..core.classifier.data import training_plan as compute_training_plan

    train = known(image_set, "Train")
    if train.empty:
        raise dg.Failure("image_set has no training image with a known class: nothing to plan")
    plan = compute_training_plan(train.class_label, config.target_per_class)
    return table_output(plan, preview_rows=31, classes=len(plan), augmented_samples=int(plan.augmented_samples.sum()),
                        classes_without_images=dg.MetadataValue.json(sorted(set(CLASS_LABELS) - set(plan.class_label))))


class StyleClassifierConfig(dg.Config):
    recipe: str = Field(default="improved", description="'seed' (the seed's recipe) or 'improved'.")
    epochs: int = Field(default=30, ge=1, description="Maximum epochs (early stopping on the holdout may end sooner).")
    batch_size: int = Field(default=64, ge=1, description="Images per step.")
    image_size: int = Field(default=224, ge=32, description="Training resolution (the crops are resized to it); the feature "
                                                     "matrix and every consumer read it from the checkpoint.")
    samples_per_epoch: int = Field(default=0, ge=0, description="0 = the seed's augmented dataset size (training_plan's "
                                                          "augmented samples, ~61.6k at full scale) less the holdout share.")
    patience: int = Field(default=8, ge=1, description="Epochs without holdout improvement before stopping.")
    holdout_fraction: float = Field(default=0.15, gt=0, lt=1, description="Stratified share of training images used to pick the epoch.")
    seed_protocol: bool = Field(default=True, description="Also score validation every epoch to report the seed's "
                                                          "protocol (best epoch on validation); never used to choose.")
    resume: bool = Field(default=True, description="Continue an interrupted run when its inputs and settings match.")
    cpu_channels_last: bool = Field(default=False, description="On a CPU: channels-last memory layout (a GPU always "
                                                               "uses it). benchmarks/cpu_training.py measures it.")
    cpu_bf16: bool = Field(default=False, description="On a CPU with bf16 instructions (avx512_bf16, AMX): bfloat16 "
                                                      "autocast while training; the checkpoint stays float32.")
    mixup: float = Field(default=0.0, ge=0, description="Mixup's Beta(a, a) parameter a (0 = off): each batch is blended with "
                                                  "a shuffled copy of itself, and its loss likewise.")
    random_erasing: float = Field(default=0.0, ge=0, le=1, description="Probability that a training image has a random rectangle "
                                                           "(2-33% of it) replaced by noise (0 = off).")
    colour_jitter: float = Field(default=0.2, ge=0, le=1, description="Brightness, contrast and saturation jitter of the training "
                                                         "augmentation (0.2 = ±20%; 0 = colours kept as photographed).")


BEATS_CHANCE = "style_classifier_beats_chance"
MODEL_NAME = "style_classifier"  # its name in the model registry
BEATS_BASELINE = "style_classifier_beats_baseline"
POOLED, NETWORK = "resnet18 + colour histograms (the product)", "resnet18 alone"


@dg.asset(group_name=GROUP, kinds={"pytorch"}, pool="gpu", op_tags=GPU_TAGS, io_manager_key=ARTIFACT, code_version="4",
          check_specs=[dg.AssetCheckSpec(BEATS_CHANCE, asset="style_classifier", blocking=True,
                                         description="The chosen model beats chance on the training holdout "
                                                     "(gates downstream use)."),
                       dg.AssetCheckSpec(BEATS_BASELINE, asset="style_classifier",
                                         description="The model beats every simple baseline (majority class, colour "
                                                     "histograms + logistic regression) on the holdout (WARN).")])
def style_classifier(context: dg.AssetExecutionContext, config: StyleClassifierConfig, torch_device: TorchDeviceResource,
                     artifact_store: ArtifactStore, model_registry: ModelRegistryResource, image_set: pd.DataFrame,
                     leakage_report: pd.DataFrame,
                     channel_stats: pd.DataFrame, training_plan: pd.DataFrame):
    """ResNet-18 (no pretrained weights) over the 31 sex&style classes. The epoch is chosen on a
    holdout carved from training; the official validation set is scored once with that model and
    reported on all images and on the unseen ones (not in training by name or content)."""
    import torch
    from ..core.classifier.training import RECIPES, TrainConfig, classifier_settings, fit, load_classifier, save_atomic
    from ..core.classifier.baselines import classifier_baselines, colour_expert_entry
    from ..core.classifier.ensemble import choose_weight, pool
    from ..core.classifier.evaluation import comparison_table, readable_comparison, training_report
    from ..core.classifier.inference import predict_logits
    from ..core.classifier.data import holdout_split, load_uint8

    device = torch_device.torch_device()
    class_names = list(training_plan.class_label)
    index = {c: i for i, c in enumerate(class_names)}
    train, val = known(image_set, "Train"), known(image_set, "Validation")
    val = val[val.class_label.isin(index)].reset_index(drop=True)
    seen = set(leakage_report.loc[leakage_report.kind.isin(["image_same_name", "image_same_content"]), "file_name"])
    unseen = ~val.file_name.isin(seen).to_numpy()
    mean, std = torch.tensor(list(channel_stats["mean"])), torch.tensor(list(channel_stats["std"]))
    y_train, y_val = train.class_label.map(index).to_numpy(), val.class_label.map(index).to_numpy()
    tr, ho = holdout_split(y_train, config.holdout_fraction, seed=42)
    per_epoch = config.samples_per_epoch or int(training_plan.augmented_samples.sum() * len(tr) / len(y_train))
    cfg = TrainConfig(recipe=config.recipe, epochs=config.epochs, batch_size=config.batch_size,
                      image_size=config.image_size, samples_per_epoch=per_epoch, patience=config.patience,
                      cpu_channels_last=config.cpu_channels_last, cpu_bf16=config.cpu_bf16,
                      overrides={k: v for k, v in (("mixup", config.mixup), ("erase", config.random_erasing),
                                                   ("colour_jitter", config.colour_jitter)) if v != RECIPES[config.recipe][k]})
    # What the model is built from: images (content), labels, which are unseen, normalisation, settings.
    inputs_version = content_version(train[["file_name", "crop_sha1", "class_label"]], val[["file_name", "crop_sha1",
                                     "class_label"]], unseen.tolist(), channel_stats, config.model_dump())
    x_train, x_val = load_uint8(list(train.crop), config.image_size), load_uint8(list(val.crop), config.image_size)
    context.log.info(f"training on {device}: {len(tr)} images (+{len(ho)} holdout), {len(class_names)} classes, "
                     f"recipe {config.recipe}, inputs version {inputs_version}")
    result = fit((x_train[tr], y_train[tr]), (x_train[ho], y_train[ho]), class_names, mean, std, cfg, device,
                 artifact_store.work_folder(context), validation=(x_val, y_val) if config.seed_protocol else None,
                 log=context.log.info, resume=config.resume, inputs_version=inputs_version)

    version = artifact_store.version_folder(context)
    model_path = result["best_path"].replace(version / "model.pt")
    model, ckpt = load_classifier(model_path, device)
    val_logits = predict_logits(model, x_val, mean, std, device, tta_flip=ckpt["recipe"]["tta_flip"]).numpy()
    y_pred = val_logits.argmax(1) if len(val_logits) else np.zeros(0, dtype=int)
    summary, report, figures = training_report(result["history"], y_val, y_pred, unseen, class_names)
    # Baselines on the same split: trained on the CNN's training images, setting chosen on its holdout.
    baselines = classifier_baselines(x_train[tr], y_train[tr], x_train[ho], y_train[ho], x_val, len(class_names))
    # The classifier the product uses: the network pooled with the colour histograms, the weight
    # chosen on the holdout; stored in the checkpoint, so every consumer of it pools the same way.
    colour = next(b for b in baselines if b.expert is not None)
    ho_logits = predict_logits(model, x_train[ho], mean, std, device, tta_flip=ckpt["recipe"]["tta_flip"]).numpy()
    weight, losses = choose_weight(ho_logits, colour.holdout_log_proba, y_train[ho])
    ckpt["colour_expert"] = colour_expert_entry(colour.expert, weight, losses)
    save_atomic(ckpt, model_path)
    y_pooled = pool(val_logits, colour.validation_log_proba, weight).argmax(1) if len(val_logits) else y_pred
    pooled_holdout = (float((pool(ho_logits, colour.holdout_log_proba, weight).argmax(1) == y_train[ho]).mean())
                      if len(ho) else float("nan"))
    comparison = comparison_table(y_val, unseen, {
        POOLED: (pooled_holdout, y_pooled), NETWORK: (result["best"]["holdout_accuracy"], y_pred),
        **{b.name: (b.holdout_accuracy, b.validation_predictions) for b in baselines}})
    context.log.info(f"network weight {weight} in the pooled classifier (holdout log-loss "
                     f"{ {w: round(v, 4) for w, v in losses.items()} })")
    context.log.info("model beside its baselines:\n" + readable_comparison(comparison).to_string(index=False))
    val_curve = [h["validation_accuracy"] for h in result["history"] if h["validation_accuracy"] is not None]
    summary.update({"best_epoch": result["best"]["epoch"], "holdout_accuracy": result["best"]["holdout_accuracy"],
                    "holdout_images": int(len(ho)), "epochs_run": len(result["history"]), "device": str(device),
                    "seed_protocol_validation_accuracy": max(val_curve) if val_curve else None,
                    "mean_images_per_second": float(np.mean([h["images_per_second"] for h in result["history"]])),
                    "inputs_version": inputs_version, "model_version": version.name,
                    "baselines": {b.name: {"description": b.description, "chosen_on_holdout": b.setting,
                                           "holdout_accuracy": b.holdout_accuracy,
                                           "holdout_images": len(b.holdout_predictions),
                                           **comparison.set_index("model").loc[b.name, ["validation_accuracy",
                                                                                        "unseen_accuracy"]].to_dict()}
                                  for b in baselines},
                    "pooled": {"network_weight": weight, "holdout_accuracy": pooled_holdout,
                               "holdout_log_loss": {str(w): v for w, v in losses.items()},
                               **comparison.set_index("model").loc[POOLED, ["validation_accuracy", "unseen_accuracy"]].to_dict()}})
    predictions = val[["file_name", "class_label"]].assign(
        predicted=[class_names[k] for k in y_pred], predicted_pooled=[class_names[k] for k in y_pooled], unseen=unseen)
    write_bytes(version / "validation_predictions.csv", predictions.to_csv(index=False).encode())
    write_bytes(version / "per_class_report.csv", report.to_csv(index=False).encode())
    write_bytes(version / "baselines.csv", comparison.to_csv(index=False).encode())
    for name, png in figures.items():
        write_bytes(version / f"{name}.png", png)
    artifact = Artifact(path=str(model_path), kind="classifier", inputs_version=inputs_version, version=version.name,
                        settings=classifier_settings(ckpt))
    # Tracked and registered; the champion alias moves only when the gate passes.
    gate = beats_chance(summary["holdout_accuracy"], len(class_names), len(ho))
    registry = model_registry.registry()
    registered = registry.log_training(
        MODEL_NAME, model_path, config.model_dump(), result["history"],
        {**summary, **{f"{b}_{k}": v for b, r in summary["baselines"].items() for k, v in r.items()},
         **{f"pooled_{k}": v for k, v in summary["pooled"].items()}},
        sorted(version.glob("*.png")) + sorted(version.glob("*.csv")),
        tags={"dagster_run_id": context.run_id, "inputs_version": inputs_version, "dagster_asset": "style_classifier"})
    if gate.passed:
        registry.set_champion(MODEL_NAME, registered.version)
        context.log.info(f"registered {MODEL_NAME} version {registered.version}; it is the champion now")
    else:
        previous = registry.champion(MODEL_NAME)
        context.log.warning(f"registered {MODEL_NAME} version {registered.version}; it failed {BEATS_CHANCE}, so the "
                            f"champion stays {'unset' if previous is None else f'version {previous.version}'}")
    side_by_side = pd.DataFrame([
        {"protocol": "honest: epoch chosen on training holdout", "all validation": summary["validation_accuracy"],
         "unseen validation": summary["unseen_accuracy"]},
        {"protocol": f"the product: pooled with the colour histograms (network weight {weight}, chosen on the holdout)",
         "all validation": summary["pooled"]["validation_accuracy"], "unseen validation": summary["pooled"]["unseen_accuracy"]},
        {"protocol": "seed protocol: best epoch chosen on validation", "all validation": summary["seed_protocol_validation_accuracy"],
         "unseen validation": None}])
    yield dg.Output(artifact, data_version=dg.DataVersion(sha1_of(model_path)[:20]), metadata={
        "summary": dg.MetadataValue.json(summary),
        "validation_accuracy": dg.MetadataValue.float(round(summary["validation_accuracy"], 4)),
        "unseen_accuracy": dg.MetadataValue.float(round(summary["unseen_accuracy"], 4)),
        "pooled_unseen_accuracy": dg.MetadataValue.float(round(summary["pooled"]["unseen_accuracy"], 4)),
        "accuracy (official vs unseen)": dg.MetadataValue.md(markdown(side_by_side)),
        "model vs baselines": dg.MetadataValue.md(markdown(readable_comparison(comparison))),
        "per_class": dg.MetadataValue.md(markdown(report)),
        "mlflow_run": dg.MetadataValue.url(registered.run_url()),
        "registered_version": dg.MetadataValue.int(registered.version),
        "champion": dg.MetadataValue.bool(gate.passed),
        **{name: dg.MetadataValue.md(markdown_image(png, name)) for name, png in figures.items()}})
    yield gate
    yield beats_baseline(summary["holdout_accuracy"], baselines)


def beats_chance(holdout_accuracy: float, classes: int, holdout_images: int) -> dg.AssetCheckResult:
    """Passed when the chosen model's holdout accuracy is above 1/classes; a clear failure, not a
    crash, when there is no holdout to judge by."""
    chance = 1 / max(classes, 1)
    if holdout_images == 0 or np.isnan(holdout_accuracy):
        return dg.AssetCheckResult(check_name=BEATS_CHANCE, passed=False,
                                   description="no holdout images to judge the model by: nothing to check, so the "
                                               "model is not passed downstream (add training images)")
    return dg.AssetCheckResult(check_name=BEATS_CHANCE, passed=holdout_accuracy > chance,
                               description=f"holdout accuracy {holdout_accuracy:.1%} vs chance {chance:.1%}",
                               metadata={"holdout_accuracy": holdout_accuracy, "chance": round(chance, 4)})


def beats_baseline(holdout_accuracy: float, baselines: list) -> dg.AssetCheckResult:
    """WARN when a simple baseline trained on the same split does as well on the holdout."""
    best = max(baselines, key=lambda b: -1 if np.isnan(b.holdout_accuracy) else b.holdout_accuracy)
    passed = bool(holdout_accuracy > best.holdout_accuracy)
    return dg.AssetCheckResult(
        check_name=BEATS_BASELINE, passed=passed, severity=dg.AssetCheckSeverity.WARN,
        description=(f"holdout accuracy {holdout_accuracy:.1%} against {best.holdout_accuracy:.1%} for {best.name}"
                     + ("" if passed else ": the network has learned no more than the baseline")),
        metadata={"holdout_accuracy": holdout_accuracy, "best_baseline": best.name,
                  "best_baseline_holdout_accuracy": best.holdout_accuracy})
