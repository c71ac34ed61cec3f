"""Matplotlib figures as PNG bytes (headless), for files and for asset metadata.

Matplotlib is imported by the first figure drawn, not with this module: this module is imported
with the project's definitions, and a run that draws nothing should not wait for matplotlib."""

from __future__ import annotations

import base64
import io

import numpy as np


def _subplots(*grid: int, figsize: tuple[float, float]):
    """(figure, axes) without pyplot: a figure of its own, nothing global to close."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*grid)


def to_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return buf.getvalue()


def markdown_image(png: bytes, alt: str) -> str:
    """A PNG embedded as a data URI; Dagster's UI renders it under the metadata's markdown view."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


def training_curves(history: list[dict]) -> bytes:
    epochs = [h["epoch"] for h in history]
    fig, (a, b) = _subplots(1, 2, figsize=(10, 3.5))
    a.plot(epochs, [h["train_loss"] for h in history], label="train loss")
    a.set_xlabel("epoch"), a.legend()
    b.plot(epochs, [h["train_accuracy"] for h in history], label="train (augmented)")
    b.plot(epochs, [h["holdout_accuracy"] for h in history], label="holdout (selects the epoch)")
    if any(h.get("validation_accuracy") is not None for h in history):
        b.plot(epochs, [h["validation_accuracy"] for h in history], "--", label="validation (seed protocol only)")
    b.set_xlabel("epoch"), b.set_ylim(0, 1), b.legend(fontsize=8)
    return to_png(fig)


def confusion(matrix: np.ndarray, names: list[str]) -> bytes:
    fig, ax = _subplots(figsize=(9, 8))
    norm = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("predicted"), ax.set_ylabel("true")
    return to_png(fig)


def per_class_bars(names: list[str], all_acc: list[float], unseen_acc: list[float]) -> bytes:
    fig, ax = _subplots(figsize=(10, 3.5))
    x = np.arange(len(names))
    ax.bar(x - 0.2, all_acc, 0.4, label="all validation")
    ax.bar(x + 0.2, np.nan_to_num(unseen_acc), 0.4, label="unseen validation")
    ax.set_xticks(x, names, rotation=90, fontsize=7)
    ax.set_ylim(0, 1), ax.legend()
    return to_png(fig)


def roc_curves(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> bytes:
    """ROC curves, one per label: (false positive rates, true positive rates)."""
    fig, ax = _subplots(figsize=(4, 4))
    for label, (fpr, tpr) in curves.items():
        ax.plot(fpr, tpr, "--" if "unseen" in label else "-", label=label)
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set_xlabel("false positive rate"), ax.set_ylabel("true positive rate"), ax.legend(fontsize=7)
    return to_png(fig)
