import numpy as np
import torch

from fashion_assets.core.classifier.baselines import classifier_baselines, colour_histograms


def figures(rng, labels, palette, size=48):
    """White images with a figure whose top and bottom colours depend on the class (with noise)."""
    x = torch.full((len(labels), 3, size, size), 255, dtype=torch.uint8)
    for k, c in enumerate(labels):
        top, bottom = palette[c]
        x[k, :, 8:24, 14:34] = torch.tensor(np.clip(top + rng.normal(0, 12, 3), 0, 230)).view(3, 1, 1).to(torch.uint8)
        x[k, :, 24:44, 16:32] = torch.tensor(np.clip(bottom + rng.normal(0, 12, 3), 0, 230)).view(3, 1, 1).to(torch.uint8)
    return x


def test_colour_histograms_ignore_the_white_background_and_sum_per_band():
    x = torch.full((1, 3, 30, 30), 255, dtype=torch.uint8)
    x[0, :, :10] = torch.tensor([200, 0, 0]).view(3, 1, 1)  # red upper band, the rest background
    f = colour_histograms(x, bins=4, bands=3)
    hist = f[0, :192].reshape(3, 64) ** 2
    assert np.allclose(hist.sum(axis=1), [1, 0, 0])  # only the upper band has figure pixels
    assert hist[0, (3 * 4 + 0) * 4 + 0] == 1.0  # all of them in the red bin
    assert np.allclose(f[0, 192:] ** 2, [1, 0, 0])


def test_histogram_baseline_learns_colour_classes_the_majority_class_does_not():
    rng = np.random.default_rng(0)
    palette = {c: (rng.integers(0, 230, 3), rng.integers(0, 230, 3)) for c in range(6)}
    y_train, y_hold, y_val = rng.integers(0, 6, 240), rng.integers(0, 6, 60), rng.integers(0, 6, 90)
    x_train, x_hold, x_val = (figures(rng, y, palette) for y in (y_train, y_hold, y_val))
    majority, hist = classifier_baselines(x_train, y_train, x_hold, y_hold, x_val)
    assert hist.holdout_accuracy > 0.8 and (hist.validation_predictions == y_val).mean() > 0.8
    assert majority.holdout_accuracy < 0.4
