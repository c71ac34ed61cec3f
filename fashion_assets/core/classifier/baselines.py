"""Simple classifiers the CNN must beat, trained on exactly its split (same training images,
same holdout): the majority class, and logistic regression on colour histograms of the cropped
figure. If the CNN does not beat a colour histogram, what it learned is mostly colour.

The regularisation strength is chosen on the holdout, as the CNN's epoch is; validation labels
are only scored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .ensemble import ColourExpert, pool

BINS = 4  # per channel: 4³ = 64 colours
BANDS = 3  # horizontal bands of the figure (upper, middle, lower body)
WHITE = 235  # a pixel with every channel above this is background (crops are on white)
C_GRID = (0.01, 0.1, 1.0)


def colour_histograms(x: torch.Tensor, bins: int = BINS, bands: int = BANDS, chunk: int = 64,
                      max_side: int = 112) -> np.ndarray:
    """(N, bands·bins³ + bands) features of (N, 3, H, W) uint8 images: per horizontal band, the
    share of the figure's pixels in each colour bin (background left out), then the figure's share
    of each band. Square-rooted (Hellinger), so that rare colours count. Every ``step``-th pixel
    is counted (a histogram hardly changes; the cost falls with the square)."""
    step = max(1, max(x.shape[2:]) // max_side)
    x = x[:, :, ::step, ::step]
    n, _, h, w = x.shape
    colours = bins ** 3
    band_of_row = torch.arange(h) * bands // h
    out = np.zeros((n, bands * colours + bands), dtype=np.float32)
    for s in range(0, n, chunk):
        xb = x[s:s + chunk].to(torch.int64)
        m = len(xb)
        q = xb * bins // 256
        colour = (q[:, 0] * bins + q[:, 1]) * bins + q[:, 2]  # (m, H, W)
        figure = ~(xb > WHITE).all(dim=1)
        cell = (torch.arange(m).view(m, 1, 1) * bands + band_of_row.view(1, h, 1)) * colours + colour
        counts = torch.bincount(cell[figure], minlength=m * bands * colours).view(m, bands, colours).to(torch.float32)
        pixels = counts.sum(dim=2, keepdim=True)
        hist = (counts / pixels.clamp(min=1)).sqrt().reshape(m, -1)
        share = (pixels.squeeze(2) / (h * w / bands)).sqrt()
        out[s:s + m] = torch.cat([hist, share], dim=1).numpy()
    return out


@dataclass
class BaselineResult:
    name: str
    description: str
    setting: str  # what was chosen on the holdout
    holdout_accuracy: float
    holdout_predictions: np.ndarray
    validation_predictions: np.ndarray
    expert: ColourExpert | None = None  # the fitted model as arrays, where it gives probabilities
    holdout_log_proba: np.ndarray | None = None
    validation_log_proba: np.ndarray | None = None


def majority_class(y_train: np.ndarray, n_holdout: int, n_validation: int, y_holdout: np.ndarray) -> BaselineResult:
    top = int(np.bincount(y_train).argmax())
    hold = np.full(n_holdout, top)
    return BaselineResult("majority_class", "the most frequent training class for every image", f"class {top}",
                          float((hold == y_holdout).mean()) if n_holdout else float("nan"), hold, np.full(n_validation, top))


def colour_histogram_logreg(f_train: np.ndarray, y_train: np.ndarray, f_holdout: np.ndarray, y_holdout: np.ndarray,
                            f_validation: np.ndarray, grid: tuple[float, ...] = C_GRID,
                            n_classes: int | None = None) -> BaselineResult:
    """Logistic regression on colour histograms; C chosen by holdout accuracy (ties: the
    stronger regularisation). Its class log-probabilities come with it (``core/ensemble.py``)."""
    n_classes = n_classes or int(max(y_train.max(initial=0), y_holdout.max(initial=0)) + 1)
    best = None
    for c in grid:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=300)).fit(f_train, y_train)
        hold = model.predict(f_holdout) if len(f_holdout) else np.zeros(0, dtype=int)
        acc = float((hold == y_holdout).mean()) if len(y_holdout) else float("nan")
        if best is None or acc > best[0]:
            best = (acc, c, model, hold)
    acc, c, model, hold = best
    expert = ColourExpert.from_pipeline(model, n_classes)
    val_logp = expert.log_proba(f_validation)
    return BaselineResult("colour_histogram_logreg", f"logistic regression on {BANDS}-band colour histograms of the crop",
                          f"C={c}", acc, hold, val_logp.argmax(1), expert, expert.log_proba(f_holdout), val_logp)


def classifier_baselines(x_train: torch.Tensor, y_train: np.ndarray, x_holdout: torch.Tensor, y_holdout: np.ndarray,
                         x_validation: torch.Tensor, n_classes: int | None = None) -> list[BaselineResult]:
    """Every baseline, trained on the CNN's training images and judged on its holdout."""
    f_train, f_hold, f_val = (colour_histograms(x) for x in (x_train, x_holdout, x_validation))
    return [majority_class(y_train, len(y_holdout), len(x_validation), y_holdout),
            colour_histogram_logreg(f_train, y_train, f_hold, y_holdout, f_val, n_classes=n_classes)]


def colour_expert_entry(expert: ColourExpert, weight: float, holdout_log_loss: dict) -> dict:
    """What a checkpoint keeps of the colour model (``ckpt["colour_expert"]``): the arrays, how
    the histograms are computed, and the network's weight in the pooled classifier."""
    return {"expert": expert.to_dict(), "bins": BINS, "bands": BANDS, "weight": float(weight),
            "holdout_log_loss": {str(w): v for w, v in holdout_log_loss.items()}}


def pooled_scores(network_logits: np.ndarray, images: torch.Tensor, entry: dict | None) -> np.ndarray:
    """A classifier's class scores for uint8 images at its input size: its logits pooled with
    the colour expert its checkpoint keeps (``colour_expert_entry``); the logits alone for a
    checkpoint without one. Softmax gives the class probabilities, argmax the class."""
    if not entry or len(images) == 0:
        return np.asarray(network_logits, dtype=np.float64)
    features = colour_histograms(images, bins=entry["bins"], bands=entry["bands"])
    return pool(network_logits, ColourExpert.from_dict(entry["expert"]).log_proba(features), entry["weight"])
