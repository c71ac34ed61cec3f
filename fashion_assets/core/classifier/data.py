"""Training data for the classifier: images as uint8 tensors, channel statistics, the plan.

The seed computed per-channel statistics with a per-image loop (8 minutes for 4,070 images);
here all images are decoded once into one uint8 tensor and the statistics are two reductions.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Iterable

import numpy as np
import pandas as pd
import torch
from PIL import Image
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder


def known_images(image_set: pd.DataFrame, split: str) -> pd.DataFrame:
    """Images of one split with a known class, in a stable (file name) order."""
    rows = image_set[image_set.style_known & (image_set.split == split)]
    return rows.sort_values("file_name", ignore_index=True)


def load_uint8(paths: list[str], size: int, threads: int = 4) -> torch.Tensor:
    """Decode images into one (N, 3, size, size) uint8 tensor (resized when needed)."""
    out = torch.empty((len(paths), 3, size, size), dtype=torch.uint8)

    def load(i_path):
        i, path = i_path
        im = Image.open(path).convert("RGB")
        if im.size != (size, size):
            im = im.resize((size, size), Image.BILINEAR)
        out[i] = torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)

    with ThreadPoolExecutor(threads) as pool:  # PIL decoding releases the GIL
        list(pool.map(load, enumerate(paths)))
    return out


def _moments(batches: Iterable[torch.Tensor]) -> tuple[list[float], list[float]]:
    total, total_sq, n = torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), 0
    for batch in batches:
        x = batch.to(torch.float64)
        total += x.sum(dim=(0, 2, 3))
        total_sq += (x * x).sum(dim=(0, 2, 3))
        n += x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / n
    return (mean / 255).tolist(), (torch.sqrt(total_sq / n - mean * mean) / 255).tolist()


def channel_stats(images: torch.Tensor, chunk: int = 512) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation over every pixel of every image, in [0, 1] units."""
    return _moments(images[i:i + chunk] for i in range(0, len(images), chunk))


def channel_stats_of_files(paths: list[str], chunk: int = 512) -> tuple[list[float], list[float]]:
    """channel_stats over image files at their stored size, decoded a chunk at a time (memory
    stays at one chunk however many images there are)."""
    if not paths:
        raise ValueError("no images to compute channel statistics over")
    size = Image.open(paths[0]).size[0]
    return _moments(load_uint8(paths[i:i + chunk], size) for i in range(0, len(paths), chunk))


def channel_stats_seed_loop(paths: list[str]) -> tuple[list[float], list[float]]:
    """The seed's method, for comparison: per image ToTensor, mean and std per channel, averaged.

    (Averaging per-image standard deviations is not the dataset's standard deviation; it is kept
    as the seed wrote it.)"""
    from torchvision.transforms.functional import to_tensor

    mean = torch.zeros(3)
    std = torch.zeros(3)
    for p in paths:
        img = to_tensor(Image.open(p).convert("RGB"))
        mean += img.mean(dim=[1, 2])
        std += img.std(dim=[1, 2])
    return (mean / len(paths)).tolist(), (std / len(paths)).tolist()


def training_plan(class_labels: pd.Series, target: int = 2000) -> pd.DataFrame:
    """Per class (LabelEncoder order): images, the seed's augmentation multiplier and the samples
    that gives (the balancing sampler draws classes equally; the total sets the epoch size).

    The seed added round((target - count) / count) augmented copies per image, so each class has
    count · (multiplier + 1) samples (4,070 images → 61,582 samples at target 2,000). SPEC §4's
    ceil(target / count) would give 63,897; this follows the seed's numbers.
    """
    encoder = LabelEncoder().fit(class_labels)
    counts = class_labels.value_counts().reindex(encoder.classes_)
    plan = pd.DataFrame({"class_label": encoder.classes_, "images": counts.to_numpy()})
    plan["multiplier"] = [max(0, round((target - c) / c)) for c in plan.images]
    plan["augmented_samples"] = plan.images * (plan.multiplier + 1)
    return plan


def holdout_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (train, holdout) indices carved from training; classes with fewer than 2 images
    stay wholly in training."""
    idx = np.arange(len(labels))
    counts = np.bincount(labels)
    splittable = counts[labels] >= 2
    n, k = int(splittable.sum()), len(np.unique(labels[splittable]))
    # Stratification needs at least one holdout image per class (tiny data sets).
    n_holdout = min(max(round(fraction * n), k), n - k)
    tr, ho = train_test_split(idx[splittable], test_size=n_holdout, random_state=seed, stratify=labels[splittable])
    return np.sort(np.concatenate([tr, idx[~splittable]])), np.sort(ho)
