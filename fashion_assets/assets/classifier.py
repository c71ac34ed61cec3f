"""Stage 1-2 model: channel statistics, the training plan, the ResNet-18 sex&style classifier and
its honest evaluation (holdout-selected; official validation scored once; unseen part apart)."""

import time

import dagster as dg
import numpy as np
import pandas as pd
import torch
from pydantic import Field

from ..core import evaluation, plots
from ..core.classifier import TrainConfig, fit, load_classifier, predict_logits
from ..core.training_data import channel_stats as compute_channel_stats
from ..core.training_data import holdout_split, load_uint8, training_plan as compute_training_plan
from ..core.vocabulary import CLASS_LABELS
from ..resources import DataRootResource, TorchDeviceResource
from .metadata import markdown, table_metadata

GROUP = "classifier"
# GPU steps run one at a time (pool "gpu") and ask Kubernetes for a GPU when run there.
GPU_TAGS = {"dagster-k8s/config": {"container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"}}}}}
SEED_MEAN, SEED_STD = [0.8752, 0.8656, 0.8636], [0.2598, 0.2734, 0.2761]


def _known_train(cropped: pd.DataFrame, image_table: pd.DataFrame, split: str) -> pd.DataFrame:
    """Cropped images of one split with a known class, with their class label."""
    classes = image_table[image_table.style_known][["split", "file_name", "class_label"]]
    rows = cropped.merge(classes, on=["split", "file_name"], how="inner")
    return rows[rows.split == split].sort_values("file_name", ignore_index=True)


class ImageSizeConfig(dg.Config):
    image_size: int = Field(default=224, description="Side the cropped images are used at (resized when different).")


@dg.asset(group_name=GROUP, kinds={"duckdb", "pytorch"})
def channel_stats(context: dg.AssetExecutionContext, config: ImageSizeConfig, cropped_images: pd.DataFrame,
                  image_table: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """Per-channel mean and std over the cropped training images (vectorised, one pass)."""
    train = _known_train(cropped_images, image_table, "Train")
    t0 = time.perf_counter()
    images = load_uint8(list(train.output), config.image_size)
    mean, std = compute_channel_stats(images)
    secs = time.perf_counter() - t0
    df = pd.DataFrame({"channel": ["R", "G", "B"], "mean": mean, "std": std, "seed_mean": SEED_MEAN, "seed_std": SEED_STD})
    context.log.info(f"channel stats of {len(train)} images in {secs:.1f}s: mean {np.round(mean, 4)}, std {np.round(std, 4)}")
    return dg.Output(df, metadata={**table_metadata(df), "images": len(train), "seconds": round(secs, 2),
                                   "table": dg.MetadataValue.md(markdown(df))})


class TrainingPlanConfig(dg.Config):
    target_per_class: int = Field(default=2000, description="Samples per class the augmentation aims at (the seed's 2,000).")


@dg.asset(group_name=GROUP, kinds={"duckdb"})
def training_plan(config: TrainingPlanConfig, cropped_images: pd.DataFrame,
                  image_table: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """Per class: training images, augmentation multiplier ceil(target/count), samples, sampler weight."""
    train = _known_train(cropped_images, image_table, "Train")
    plan = compute_training_plan(train.class_label, config.target_per_class)
    missing = sorted(set(CLASS_LABELS) - set(plan.class_label))
    return dg.Output(plan, metadata={**table_metadata(plan, 31), "classes": len(plan),
                                     "augmented_samples": int(plan.augmented_samples.sum()),
                                     "classes_without_images": dg.MetadataValue.json(missing)})


class StyleClassifierConfig(dg.Config):
    recipe: str = Field(default="improved", description="'seed' (the seed's recipe) or 'improved'.")
    epochs: int = Field(default=30, description="Maximum epochs (early stopping on the holdout may end sooner).")
    batch_size: int = Field(default=64, description="Images per step.")
    image_size: int = Field(default=224, description="Training resolution (the crops are resized to it).")
    samples_per_epoch: int = Field(default=0, description="0 = the seed's augmented dataset size (training_plan's "
                                                          "augmented samples, ~61.6k at full scale) less the holdout share.")
    patience: int = Field(default=8, description="Epochs without holdout improvement before stopping.")
    holdout_fraction: float = Field(default=0.15, description="Stratified share of training images used to pick the epoch.")
    seed_protocol: bool = Field(default=True, description="Also score validation every epoch to report the seed's "
                                                          "protocol (best epoch on validation); never used to choose.")
    resume: bool = Field(default=True, description="Continue from last.pt when its configuration matches.")


@dg.asset(group_name=GROUP, kinds={"pytorch"}, pool="gpu", op_tags=GPU_TAGS)
def style_classifier(context: dg.AssetExecutionContext, config: StyleClassifierConfig, data_root: DataRootResource,
                     torch_device: TorchDeviceResource, cropped_images: pd.DataFrame, image_table: pd.DataFrame,
                     leakage_report: pd.DataFrame, channel_stats: pd.DataFrame,
                     training_plan: pd.DataFrame) -> dg.MaterializeResult:
    """ResNet-18 (no pretrained weights) over the 31 sex&style classes. The epoch is chosen on a
    holdout carved from training; the official validation set is scored once with that model and
    reported on all images and on the unseen ones (not in training by name or content)."""
    device = torch_device.torch_device()
    class_names = list(training_plan.class_label)
    index = {c: i for i, c in enumerate(class_names)}
    train = _known_train(cropped_images, image_table, "Train")
    val = _known_train(cropped_images, image_table, "Validation")
    val = val[val.class_label.isin(index)].reset_index(drop=True)
    seen = set(leakage_report.loc[leakage_report.kind.isin(["image_same_name", "image_same_content"]), "file_name"])
    unseen = ~val.file_name.isin(seen).to_numpy()

    x_train = load_uint8(list(train.output), config.image_size)
    y_train = train.class_label.map(index).to_numpy()
    x_val = load_uint8(list(val.output), config.image_size)
    y_val = val.class_label.map(index).to_numpy()
    tr, ho = holdout_split(y_train, config.holdout_fraction, seed=42)
    mean, std = torch.tensor(list(channel_stats["mean"])), torch.tensor(list(channel_stats["std"]))
    per_epoch = config.samples_per_epoch or int(training_plan.augmented_samples.sum() * len(tr) / len(y_train))
    cfg = TrainConfig(recipe=config.recipe, epochs=config.epochs, batch_size=config.batch_size,
                      image_size=config.image_size, samples_per_epoch=per_epoch, patience=config.patience)
    out_dir = data_root.path / "models" / f"style_classifier_{config.recipe}"
    context.log.info(f"training on {device}: {len(tr)} images (+{len(ho)} holdout), {len(class_names)} classes, recipe {config.recipe}")
    result = fit((x_train[tr], y_train[tr]), (x_train[ho], y_train[ho]), class_names, mean, std, cfg, device, out_dir,
                 validation=(x_val, y_val) if config.seed_protocol else None, log=context.log.info, resume=config.resume)

    model, ckpt = load_classifier(result["best_path"], device)
    logits = predict_logits(model, x_val, mean, std, device, tta_flip=ckpt["recipe"]["tta_flip"])
    y_pred = logits.argmax(1).numpy()
    summary = evaluation.summary(y_val, y_pred, unseen)
    history = result["history"]
    val_curve = [h["validation_accuracy"] for h in history if h["validation_accuracy"] is not None]
    summary.update({"best_epoch": result["best"]["epoch"], "holdout_accuracy": result["best"]["holdout_accuracy"],
                    "epochs_run": len(history), "device": str(device),
                    "seed_protocol_validation_accuracy": max(val_curve) if val_curve else None,
                    "mean_images_per_second": float(np.mean([h["images_per_second"] for h in history]))})
    report = evaluation.per_class_report(y_val, y_pred, unseen, class_names)
    predictions = val[["file_name", "class_label"]].assign(predicted=[class_names[k] for k in y_pred], unseen=unseen)
    predictions.to_csv(out_dir / "validation_predictions.csv", index=False)
    report.to_csv(out_dir / "per_class_report.csv", index=False)
    figures = {"training_curves": plots.training_curves(history),
               "confusion_matrix": plots.confusion(evaluation.confusion(y_val, y_pred, len(class_names)), class_names),
               "per_class_accuracy": plots.per_class_bars(class_names, list(report.accuracy), list(report.unseen_accuracy))}
    for name, png in figures.items():
        (out_dir / f"{name}.png").write_bytes(png)
    side_by_side = pd.DataFrame([
        {"protocol": "honest: epoch chosen on training holdout", "all validation": summary["validation_accuracy"],
         "unseen validation": summary["unseen_accuracy"]},
        {"protocol": "seed protocol: best epoch chosen on validation", "all validation": summary["seed_protocol_validation_accuracy"],
         "unseen validation": None}])
    return dg.MaterializeResult(metadata={
        "checkpoint": dg.MetadataValue.path(str(result["best_path"])),
        "summary": dg.MetadataValue.json(summary),
        "validation_accuracy": dg.MetadataValue.float(round(summary["validation_accuracy"], 4)),
        "unseen_accuracy": dg.MetadataValue.float(round(summary["unseen_accuracy"], 4)) if unseen.any() else dg.MetadataValue.float(float("nan")),
        "accuracy (official vs unseen)": dg.MetadataValue.md(markdown(side_by_side)),
        "per_class": dg.MetadataValue.md(markdown(report)),
        **{name: dg.MetadataValue.md(plots.markdown_image(png, name)) for name, png in figures.items()},
    })


@dg.asset_check(asset="style_classifier", blocking=True,
                description="The chosen model beats chance on the training holdout (gates downstream use).")
def style_classifier_beats_chance(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    record = context.instance.get_latest_materialization_event(dg.AssetKey("style_classifier"))
    summary = record.asset_materialization.metadata["summary"].value
    chance = 1 / len(CLASS_LABELS)
    return dg.AssetCheckResult(passed=summary["holdout_accuracy"] > chance,
                               metadata={"holdout_accuracy": summary["holdout_accuracy"], "chance": round(chance, 4)})


classifier_assets = [channel_stats, training_plan, style_classifier]
classifier_checks = [style_classifier_beats_chance]
