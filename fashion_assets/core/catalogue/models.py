"""The catalogue's models: a classifier per label level (the sex&style classifier's trainer,
inference and report) and similar-item recommendations from its features.

The classifier's epoch is chosen on the validation split and the test split is scored once;
its gate compares the chosen model with the majority class on the split that chose it. Two
networks: ResNet-18 from scratch (or a local ResNet-18 state dict) and EfficientNet-Lite0
fine-tuned from its ImageNet weights (a local file); both register versions of one model per
level, and a version that passes the gate takes the champion alias unless the champion did
better on the same validation split (``champion_stays``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from ..common.artifacts import content_version
from ..common.atomic import write_bytes, write_csv
from .products import LEVELS, precision_at_k, three_way_split


@dataclass
class ProductResult:
    model_path: Path
    settings: dict  # what the features need: level, image size, classes, normalisation, recipe
    inputs_version: str
    history: list[dict]
    summary: dict  # test-split figures
    report: pd.DataFrame  # per class, on the test split
    confusion_png: bytes
    chosen_accuracy: float  # on the validation split that chose the epoch
    majority_accuracy: float  # the majority class's, on that split
    split_version: str  # the products and labels that the three splits were drawn from

    @property
    def passed(self) -> bool:
        """The gate: the chosen model beats the majority class on the split that chose it."""
        return self.chosen_accuracy > self.majority_accuracy

    @property
    def files(self) -> list[Path]:
        return [self.model_path.parent / "confusion_matrix.png", self.model_path.parent / "test_report.csv"]


def train_product_classifier(product_classes: pd.DataFrame, settings: dict, device: torch.device, work_folder: Path,
                             version_folder: Path, log: Callable[[str], None] = print) -> ProductResult:
    """Train ResNet-18 on one label level (``settings``: the asset's config as a dict) and
    score its test split; the checkpoint and reports go into ``version_folder``."""
    from sklearn.metrics import classification_report, f1_score

    from ..classifier import efficientnet_lite, evaluation
    from ..classifier.data import channel_stats, load_uint8
    from ..classifier.inference import predict_logits
    from ..classifier.training import TrainConfig, fit, load_classifier
    from ..common import plots

    level = settings["level"]
    if level not in product_classes.columns or level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; valid: {', '.join(LEVELS)}")
    counts = product_classes[level].value_counts()
    items = product_classes[product_classes[level].map(counts) >= settings["min_items"]].reset_index(drop=True)
    names = sorted(items[level].unique())
    y = items[level].map({c: i for i, c in enumerate(names)}).to_numpy()
    x = load_uint8(list(items.image), settings["image_size"])
    tr, va, te = three_way_split(y)
    architecture, weights = settings.get("architecture", "resnet18"), settings.get("pretrained_weights")
    mean, std = (torch.tensor(v) for v in channel_stats(x[tr]))
    if architecture == "efficientnet_lite0" and weights:  # the pretrained network's own input scaling
        mean, std = torch.tensor(efficientnet_lite.MEAN), torch.tensor(efficientnet_lite.STD)
    cfg = TrainConfig(recipe=settings["recipe"], epochs=settings["epochs"], image_size=settings["image_size"],
                      samples_per_epoch=settings["samples_per_epoch"] or len(tr), patience=settings["epochs"],
                      architecture=architecture)
    init = None
    if weights and not Path(weights).is_file():
        raise FileNotFoundError(f"pretrained_weights {weights} does not exist"
                                + (" (run `make pretrained`)" if architecture == "efficientnet_lite0" else ""))
    if weights:
        init = (efficientnet_lite.imagenet_state(weights) if architecture == "efficientnet_lite0"
                else torch.load(weights, map_location="cpu", weights_only=True))
    inputs_version = content_version(items[["id", level]], settings)
    result = fit((x[tr], y[tr]), (x[va], y[va]), names, mean, std, cfg, device, work_folder,
                 log=log, resume=False, init_state=init, inputs_version=inputs_version)
    model_path = result["best_path"].replace(version_folder / "model.pt")
    model, ckpt = load_classifier(model_path, device)
    pred = predict_logits(model, x[te], mean, std, device, tta_flip=ckpt["recipe"]["tta_flip"]).argmax(1).numpy()
    majority = np.bincount(y[tr]).argmax()
    summary = {"level": level, "classes": len(names), "items": len(items), "test_items": int(len(te)),
               "accuracy": float((pred == y[te]).mean()), "majority_baseline": float((y[te] == majority).mean()),
               "f1_macro": float(f1_score(y[te], pred, average="macro")),
               "f1_weighted": float(f1_score(y[te], pred, average="weighted")),
               "validation_accuracy": float(result["best"]["holdout_accuracy"]),
               "best_epoch": result["best"]["epoch"], "architecture": architecture,
               "from": f"pretrained ({Path(weights).name})" if init else "scratch", "device": str(device)}
    report = pd.DataFrame(classification_report(y[te], pred, labels=range(len(names)), target_names=names,
                                                output_dict=True, zero_division=0)).T.round(3).reset_index(names="label")
    png = plots.confusion(evaluation.confusion(y[te], pred, len(names)), names)
    write_bytes(version_folder / "confusion_matrix.png", png)
    write_csv(version_folder / "test_report.csv", report)
    return ProductResult(model_path, {"level": level, "image_size": settings["image_size"], "class_names": names,
                                      "mean": mean.tolist(), "std": std.tolist(), "recipe": settings["recipe"],
                                      "architecture": architecture},
                         inputs_version, result["history"], summary, report, png,
                         result["best"]["holdout_accuracy"], float((y[va] == majority).mean()),
                         content_version(items[["id", level]], settings["min_items"]))


def champion_stays(champion_tags: dict | None, split_version: str, validation_accuracy: float) -> str | None:
    """Why the current champion keeps its alias although a new version passed the gate: it was
    chosen on the same validation split (same products, labels and class rule) and did better
    there. None when the new version should take it (a tie goes to the newer version)."""
    if not champion_tags or champion_tags.get("split_version") != split_version:
        return None
    try:
        theirs = float(champion_tags["validation_accuracy"])
    except (KeyError, ValueError):
        return None
    if validation_accuracy >= theirs:
        return None
    return (f"the champion ({champion_tags.get('architecture', 'resnet18')}) reached {theirs:.1%} on the same "
            f"validation split, this version {validation_accuracy:.1%}")


@dataclass
class Recommendations:
    table: pd.DataFrame  # id, rank, similar_id, cosine, same_articleType
    precision_at_k: float  # share of neighbours of the same articleType
    contact_sheet: bytes  # PNG: six products and their neighbours


def recommend(items: pd.DataFrame, features: np.ndarray, k: int) -> Recommendations:
    """Top-k visually similar products per product (cosine), never the product itself; items in
    the order of the feature rows."""
    from PIL import Image

    from ..preferences.features import top_k_neighbours

    idx, sim = top_k_neighbours(features, k)
    art = items.articleType.to_numpy()
    ids = items.id.to_numpy()
    table = pd.DataFrame({"id": np.repeat(ids, idx.shape[1]), "rank": np.tile(np.arange(1, idx.shape[1] + 1), len(items)),
                          "similar_id": ids[idx.ravel()], "cosine": sim.ravel(),
                          "same_articleType": (art[idx] == art[:, None]).ravel()})
    sheet = Image.new("RGB", (80 * (k + 1), 80 * 6), "white")
    for row, q in enumerate(np.linspace(0, len(items) - 1, 6).astype(int)):
        for col, j in enumerate([q, *idx[q]]):
            sheet.paste(Image.open(items.image[j]).convert("RGB").resize((76, 76)), (80 * col + 2, 80 * row + 2))
    png = io.BytesIO()
    sheet.save(png, format="PNG")
    return Recommendations(table, precision_at_k(idx, art), png.getvalue())
