"""Classifier evaluation: accuracy on all validation images and on the unseen ones, per class."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..common import plots
from ..common.uncertainty import accuracy_interval, bootstrap_weights


def per_class_report(y_true: np.ndarray, y_pred: np.ndarray, unseen: np.ndarray, class_names: list[str]) -> pd.DataFrame:
    """One row per class (every class, even without validation images): counts and accuracies."""
    rows = []
    for k, name in enumerate(class_names):
        sel = y_true == k
        sel_unseen = sel & unseen
        rows.append({"class_label": name, "validation_images": int(sel.sum()),
                     "accuracy": float((y_pred[sel] == k).mean()) if sel.any() else np.nan,
                     "unseen_images": int(sel_unseen.sum()),
                     "unseen_accuracy": float((y_pred[sel_unseen] == k).mean()) if sel_unseen.any() else np.nan})
    return pd.DataFrame(rows)


def summary(y_true: np.ndarray, y_pred: np.ndarray, unseen: np.ndarray) -> dict:
    return {"validation_accuracy": float((y_true == y_pred).mean()) if len(y_true) else float("nan"),
            "validation_images": int(len(y_true)),
            "unseen_accuracy": float((y_true[unseen] == y_pred[unseen]).mean()) if unseen.any() else float("nan"),
            "unseen_images": int(unseen.sum())}


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(y_true, y_pred, labels=list(range(n_classes)))


def training_report(history: list[dict], y_true: np.ndarray, y_pred: np.ndarray, unseen: np.ndarray,
                    class_names: list[str]) -> tuple[dict, pd.DataFrame, dict[str, bytes]]:
    """(summary, per-class report, PNG figures) of one trained model on the validation images."""
    result = summary(y_true, y_pred, unseen)
    report = per_class_report(y_true, y_pred, unseen, class_names)
    figures = {"training_curves": plots.training_curves(history),
               "confusion_matrix": plots.confusion(confusion(y_true, y_pred, len(class_names)), class_names),
               "per_class_accuracy": plots.per_class_bars(class_names, list(report.accuracy), list(report.unseen_accuracy))}
    return result, report, figures


def comparison_table(y_true: np.ndarray, unseen: np.ndarray, models: dict[str, tuple[float, np.ndarray]]) -> pd.DataFrame:
    """The model beside its baselines: holdout accuracy (what chose each one's setting), then
    accuracy on all and on unseen validation images with 95% bootstrap intervals (images
    resampled; every model on the same resamples). ``models``: name → (holdout accuracy,
    validation predictions); the first is the model the others are baselines for.

    For each baseline also the first model's lead over it, with its *paired* interval: both
    models' right answers on the same resampled images, so the interval is that of the
    difference itself. A lead whose interval includes 0 could be noise, whatever the two
    accuracies' own intervals show."""
    weights = bootstrap_weights(np.arange(len(y_true)))
    right = {name: (pred == y_true).astype(np.float32) for name, (_, pred) in models.items()}
    first = next(iter(right.values()), None)
    rows = []
    for k, (name, (holdout, _)) in enumerate(models.items()):
        row = {"model": name, "holdout_accuracy": holdout}
        for part, sel in (("validation", np.ones(len(y_true), bool)), ("unseen", unseen)):
            lo, hi = accuracy_interval(right[name][sel], weights[sel])
            row.update({f"{part}_accuracy": float(right[name][sel].mean()) if sel.any() else float("nan"),
                        f"{part}_low": lo, f"{part}_high": hi,
                        f"{part}_lead": float("nan"), f"{part}_lead_low": float("nan"), f"{part}_lead_high": float("nan")})
            if k > 0 and sel.any():  # the first model's lead over this baseline, on the same resamples
                lead = first[sel] - right[name][sel]
                lo, hi = accuracy_interval(lead, weights[sel])
                row.update({f"{part}_lead": float(lead.mean()), f"{part}_lead_low": lo, f"{part}_lead_high": hi})
        rows.append(row)
    return pd.DataFrame(rows)


def readable_comparison(table: pd.DataFrame) -> pd.DataFrame:
    """'value [low, high]' per accuracy, as a person reads it; the first model's paired lead over
    each baseline when the table has it."""
    def cell(v, lo, hi):
        return "-" if not np.isfinite(v) else f"{v:.1%} [{lo:.1%}, {hi:.1%}]"

    def lead(v, lo, hi):
        return "-" if not np.isfinite(v) else f"{100 * v:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}] points"
    out = pd.DataFrame({
        "model": table.model, "holdout": table.holdout_accuracy.map(lambda v: "-" if not np.isfinite(v) else f"{v:.1%}"),
        "all validation (95% interval)": [cell(*r) for r in zip(table.validation_accuracy, table.validation_low, table.validation_high)],
        "unseen validation (95% interval)": [cell(*r) for r in zip(table.unseen_accuracy, table.unseen_low, table.unseen_high)]})
    if "unseen_lead" in table.columns:
        out["first model's lead, unseen (paired 95% interval)"] = [
            lead(*r) for r in zip(table.unseen_lead, table.unseen_lead_low, table.unseen_lead_high)]
    return out
