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


def majority_class(y_train: np.ndarray, n_holdout: int, n_validation: int, y_holdout: np.ndarray) -> BaselineResult:
    top = int(np.bincount(y_train).argmax())
    hold = np.full(n_holdout, top)
    return BaselineResult("majority_class", "the most frequent training class for every image", f"class {top}",
                          float((hold == y_holdout).mean()) if n_holdout else float("nan"), hold, np.full(n_validation, top))


def colour_histogram_logreg(f_train: np.ndarray, y_train: np.ndarray, f_holdout: np.ndarray, y_holdout: np.ndarray,
                            f_validation: np.ndarray, grid: tuple[float, ...] = C_GRID) -> BaselineResult:
    """Logistic regression on colour histograms; C chosen by holdout accuracy (ties: the
    stronger regularisation)."""
    best = None
    for c in grid:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=300)).fit(f_train, y_train)
        hold = model.predict(f_holdout) if len(f_holdout) else np.zeros(0, dtype=int)
        acc = float((hold == y_holdout).mean()) if len(y_holdout) else float("nan")
        if best is None or acc > best[0]:
            best = (acc, c, model, hold)
    acc, c, model, hold = best
    val = model.predict(f_validation) if len(f_validation) else np.zeros(0, dtype=int)
    return BaselineResult("colour_histogram_logreg", f"logistic regression on {BANDS}-band colour histograms of the crop",
                          f"C={c}", acc, hold, val)


def classifier_baselines(x_train: torch.Tensor, y_train: np.ndarray, x_holdout: torch.Tensor, y_holdout: np.ndarray,
                         x_validation: torch.Tensor) -> list[BaselineResult]:
    """Every baseline, trained on the CNN's training images and judged on its holdout."""
    f_train, f_hold, f_val = (colour_histograms(x) for x in (x_train, x_holdout, x_validation))
    return [majority_class(y_train, len(y_holdout), len(x_validation), y_holdout),
            colour_histogram_logreg(f_train, y_train, f_hold, y_holdout, f_val)]
