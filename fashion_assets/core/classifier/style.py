"""The sex&style classifier from its inputs to its reports: train (epoch chosen on a holdout
carved from training), score the official validation set once, train the simple baselines on
the same split, pool the network with the colour histograms (weight chosen on the holdout), and
write the reports beside the checkpoint. What the ``style_classifier`` asset calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from ..common.artifacts import content_version
from ..common.atomic import write_bytes, write_csv
from .baselines import BaselineResult, classifier_baselines, colour_expert_entry
from .data import holdout_split, known_images, load_uint8
from .ensemble import choose_weight, pool
from .evaluation import comparison_table, readable_comparison, training_report
from .inference import predict_logits
from .training import RECIPES, TrainConfig, classifier_settings, fit, load_classifier, save_atomic

POOLED, NETWORK = "resnet18 + colour histograms (the product)", "resnet18 alone"
# Settings (the asset's config fields) whose names differ from the recipe's fields.
RECIPE_FIELDS = {"mixup": "mixup", "random_erasing": "erase", "colour_jitter": "colour_jitter"}


@dataclass
class StyleResult:
    model_path: Path
    settings: dict  # what a consumer of the checkpoint needs (classifier_settings)
    inputs_version: str
    history: list[dict]
    summary: dict  # every figure, the baselines' and the pooled classifier's included
    report: pd.DataFrame  # per class
    comparison: pd.DataFrame  # the model beside its baselines
    side_by_side: pd.DataFrame  # honest, pooled and seed-protocol accuracy
    figures: dict[str, bytes]  # name → PNG
    baselines: list[BaselineResult]
    holdout_images: int
    classes: int

    @property
    def files(self) -> list[Path]:
        """The reports written beside the checkpoint (figures, then tables)."""
        folder = self.model_path.parent
        return sorted(folder.glob("*.png")) + sorted(folder.glob("*.csv"))

    def flat_metrics(self) -> dict:
        """The summary with the baselines' and the pooled figures flattened (for MLflow)."""
        return {**self.summary, **{f"{b}_{k}": v for b, r in self.summary["baselines"].items() for k, v in r.items()},
                **{f"pooled_{k}": v for k, v in self.summary["pooled"].items()}}


def train_config(settings: dict, samples_per_epoch: int) -> TrainConfig:
    """The trainer's configuration from the asset's settings (recipe fields changed only where
    they differ from the recipe)."""
    if settings["recipe"] not in RECIPES:
        raise ValueError(f"unknown recipe {settings['recipe']!r}; valid: {sorted(RECIPES)}")
    recipe = RECIPES[settings["recipe"]]
    return TrainConfig(recipe=settings["recipe"], epochs=settings["epochs"], batch_size=settings["batch_size"],
                       image_size=settings["image_size"], samples_per_epoch=samples_per_epoch,
                       patience=settings["patience"], cpu_channels_last=settings["cpu_channels_last"],
                       cpu_bf16=settings["cpu_bf16"],
                       overrides={field: settings[key] for key, field in RECIPE_FIELDS.items()
                                  if settings[key] != recipe[field]})


def train_and_evaluate(image_set: pd.DataFrame, leakage_report: pd.DataFrame, channel_stats: pd.DataFrame,
                       training_plan: pd.DataFrame, settings: dict, device: torch.device, work_folder: Path,
                       version_folder: Path, log: Callable[[str], None] = print) -> StyleResult:
    """Train and evaluate the classifier; its checkpoint (``model.pt``, with the colour expert)
    and reports go into ``version_folder``. ``settings``: the asset's config as a dict."""
    class_names = list(training_plan.class_label)
    index = {c: i for i, c in enumerate(class_names)}
    train, val = known_images(image_set, "Train"), known_images(image_set, "Validation")
    val = val[val.class_label.isin(index)].reset_index(drop=True)
    seen = set(leakage_report.loc[leakage_report.kind.isin(["image_same_name", "image_same_content"]), "file_name"])
    unseen = ~val.file_name.isin(seen).to_numpy()
    mean, std = torch.tensor(list(channel_stats["mean"])), torch.tensor(list(channel_stats["std"]))
    y_train, y_val = train.class_label.map(index).to_numpy(), val.class_label.map(index).to_numpy()
    tr, ho = holdout_split(y_train, settings["holdout_fraction"], seed=42)
    cfg = train_config(settings, settings["samples_per_epoch"]
                       or int(training_plan.augmented_samples.sum() * len(tr) / len(y_train)))
    # What the model is built from: images (content), labels, which are unseen, normalisation, settings.
    inputs_version = content_version(train[["file_name", "crop_sha1", "class_label"]], val[["file_name", "crop_sha1",
                                     "class_label"]], unseen.tolist(), channel_stats, settings)
    x_train, x_val = load_uint8(list(train.crop), cfg.image_size), load_uint8(list(val.crop), cfg.image_size)
    log(f"training on {device}: {len(tr)} images (+{len(ho)} holdout), {len(class_names)} classes, "
        f"recipe {cfg.recipe}, inputs version {inputs_version}")
    result = fit((x_train[tr], y_train[tr]), (x_train[ho], y_train[ho]), class_names, mean, std, cfg, device,
                 work_folder, validation=(x_val, y_val) if settings["seed_protocol"] else None,
                 log=log, resume=settings["resume"], inputs_version=inputs_version)

    model_path = result["best_path"].replace(version_folder / "model.pt")
    model, ckpt = load_classifier(model_path, device)
    tta = ckpt["recipe"]["tta_flip"]
    val_logits = predict_logits(model, x_val, mean, std, device, tta_flip=tta).numpy()
    y_pred = val_logits.argmax(1) if len(val_logits) else np.zeros(0, dtype=int)
    summary, report, figures = training_report(result["history"], y_val, y_pred, unseen, class_names)
    # Baselines on the same split: trained on the CNN's training images, setting chosen on its holdout.
    baselines = classifier_baselines(x_train[tr], y_train[tr], x_train[ho], y_train[ho], x_val, len(class_names))
    # The classifier the product uses: the network pooled with the colour histograms, the weight
    # chosen on the holdout; stored in the checkpoint, so every consumer of it pools the same way.
    colour = next(b for b in baselines if b.expert is not None)
    ho_logits = predict_logits(model, x_train[ho], mean, std, device, tta_flip=tta).numpy()
    weight, losses = choose_weight(ho_logits, colour.holdout_log_proba, y_train[ho])
    ckpt["colour_expert"] = colour_expert_entry(colour.expert, weight, losses)
    save_atomic(ckpt, model_path)
    y_pooled = pool(val_logits, colour.validation_log_proba, weight).argmax(1) if len(val_logits) else y_pred
    pooled_holdout = (float((pool(ho_logits, colour.holdout_log_proba, weight).argmax(1) == y_train[ho]).mean())
                      if len(ho) else float("nan"))
    comparison = comparison_table(y_val, unseen, {
        POOLED: (pooled_holdout, y_pooled), NETWORK: (result["best"]["holdout_accuracy"], y_pred),
        **{b.name: (b.holdout_accuracy, b.validation_predictions) for b in baselines}})
    log(f"network weight {weight} in the pooled classifier (holdout log-loss "
        f"{ {w: round(v, 4) for w, v in losses.items()} })")
    log("model beside its baselines:\n" + readable_comparison(comparison).to_string(index=False))
    by_model = comparison.set_index("model")
    val_curve = [h["validation_accuracy"] for h in result["history"] if h["validation_accuracy"] is not None]
    summary.update({"best_epoch": result["best"]["epoch"], "holdout_accuracy": result["best"]["holdout_accuracy"],
                    "holdout_images": int(len(ho)), "epochs_run": len(result["history"]), "device": str(device),
                    "seed_protocol_validation_accuracy": max(val_curve) if val_curve else None,
                    "mean_images_per_second": float(np.mean([h["images_per_second"] for h in result["history"]])),
                    "inputs_version": inputs_version, "model_version": version_folder.name,
                    "baselines": {b.name: {"description": b.description, "chosen_on_holdout": b.setting,
                                           "holdout_accuracy": b.holdout_accuracy,
                                           "holdout_images": len(b.holdout_predictions),
                                           **by_model.loc[b.name, ["validation_accuracy", "unseen_accuracy"]].to_dict()}
                                  for b in baselines},
                    "pooled": {"network_weight": weight, "holdout_accuracy": pooled_holdout,
                               "holdout_log_loss": {str(w): v for w, v in losses.items()},
                               **by_model.loc[POOLED, ["validation_accuracy", "unseen_accuracy"]].to_dict()}})
    predictions = val[["file_name", "class_label"]].assign(
        predicted=[class_names[k] for k in y_pred], predicted_pooled=[class_names[k] for k in y_pooled], unseen=unseen)
    write_csv(version_folder / "validation_predictions.csv", predictions)
    write_csv(version_folder / "per_class_report.csv", report)
    write_csv(version_folder / "baselines.csv", comparison)
    for name, png in figures.items():
        write_bytes(version_folder / f"{name}.png", png)
    return StyleResult(model_path, classifier_settings(ckpt), inputs_version, result["history"], summary, report,
                       comparison, side_by_side(summary), figures, baselines, int(len(ho)), len(class_names))


def side_by_side(summary: dict) -> pd.DataFrame:
    """Official and unseen validation accuracy under the honest protocol, of the pooled product,
    and under the seed's protocol (best epoch picked on validation)."""
    pooled = summary["pooled"]
    return pd.DataFrame([
        {"protocol": "honest: epoch chosen on training holdout", "all validation": summary["validation_accuracy"],
         "unseen validation": summary["unseen_accuracy"]},
        {"protocol": f"the product: pooled with the colour histograms (network weight {pooled['network_weight']}, "
                     "chosen on the holdout)",
         "all validation": pooled["validation_accuracy"], "unseen validation": pooled["unseen_accuracy"]},
        {"protocol": "seed protocol: best epoch chosen on validation",
         "all validation": summary["seed_protocol_validation_accuracy"], "unseen validation": None}])
