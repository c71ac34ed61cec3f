"""Training batches on the device: per-sample augmentation of uint8 batches (and optional random
erasing), normalisation,
class-balanced sampling, and keeping the image tensor on the accelerator when it fits.

Images live in memory as uint8 tensors (N, 3, S, S) and are augmented in batches on the training
device, so a GPU is not starved by a PIL DataLoader.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F


def augment(x: torch.Tensor, gen: torch.Generator, colour_jitter: float = 0.2) -> torch.Tensor:
    """Per-sample augmentation of a uint8 batch on its device → float in [0, 1].

    Horizontal flip, rotation ±15° and shear ±10°, zoom 0.8–1.0 with translation (random resized
    crop), brightness/contrast/saturation ±``colour_jitter`` (20%); areas uncovered by the
    transform are white, like the background.
    """
    b, dev = x.shape[0], x.device
    x = x.float() / 255.0
    # All random draws come from the (CPU) generator in one tensor and cross to the device in one
    # copy: reproducible on every device, and one transfer per batch instead of nine.
    draws = iter(torch.rand(9, b, generator=gen, device="cpu").to(dev, non_blocking=True))

    def u(lo, hi):
        return next(draws) * (hi - lo) + lo

    angle, shear, zoom = u(-15, 15) * math.pi / 180, u(-10, 10) * math.pi / 180, u(0.8, 1.0)
    flip = torch.where(u(0, 1) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(b, 2, 3, device=dev)
    theta[:, 0, 0] = cos * zoom * flip
    theta[:, 0, 1] = (-sin + torch.tan(shear)) * zoom
    theta[:, 1, 0] = sin * zoom * flip
    theta[:, 1, 1] = cos * zoom
    theta[:, 0, 2] = u(-0.08, 0.08)
    theta[:, 1, 2] = u(-0.08, 0.08)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # grid_sample fills with zeros: transform the inverted image so the fill comes out white.
    x = 1.0 - F.grid_sample(1.0 - x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    lo, hi = 1 - colour_jitter, 1 + colour_jitter
    bright, contrast, sat = (u(lo, hi)[:, None, None, None] for _ in range(3))
    x = x * bright
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * contrast + mean
    grey = x.mean(dim=1, keepdim=True)
    x = (x - grey) * sat + grey
    return x.clamp_(0, 1)


def random_erase(x: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    """Random erasing (Zhong et al. 2020; torchvision's RandomErasing, but a rectangle of its own
    per sample): with probability ``p`` a rectangle of 2–33% of the image, aspect 0.3–3.3, is
    replaced by uniform noise. ``x``: float in [0, 1]. Draws come from the CPU generator."""
    b, _, hgt, wid = x.shape
    dev = x.device
    area, log_aspect, top, left, on = torch.rand(5, b, generator=gen)
    area = (0.02 + area * 0.31) * hgt * wid
    aspect = torch.exp(math.log(0.3) + log_aspect * (math.log(3.3) - math.log(0.3)))
    h = (area * aspect).sqrt().clamp(1, hgt).floor()
    w = (area / aspect).sqrt().clamp(1, wid).floor()
    top, left = (top * (hgt - h + 1)).floor(), (left * (wid - w + 1)).floor()
    rows = torch.arange(hgt)[None, :, None]
    cols = torch.arange(wid)[None, None, :]
    mask = ((rows >= top[:, None, None]) & (rows < (top + h)[:, None, None]) & (cols >= left[:, None, None])
            & (cols < (left + w)[:, None, None]) & (on < p)[:, None, None])
    noise = torch.rand(x.shape, generator=gen)
    return torch.where(mask[:, None].to(dev), noise.to(dev, non_blocking=True), x)


def resident(images: torch.Tensor, device: torch.device, log: Callable[[str], None] = print,
             max_share: float = 0.25) -> torch.Tensor:
    """The uint8 image tensor on the accelerator when it takes at most ``max_share`` of the free
    memory (batches are then gathered there, no host copy per step); otherwise left in host memory."""
    if device.type != "cuda" or images.device == device:
        return images
    free, _ = torch.cuda.mem_get_info(device)
    size = images.numel() * images.element_size()
    if size > max_share * free:
        log(f"training images stay in host memory ({size / 2**30:.1f} GiB > {max_share:.0%} of free GPU memory)")
        return images.pin_memory()
    return images.to(device)


def normalise(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return (x - mean[None, :, None, None]) / std[None, :, None, None]


def balanced_indices(labels: np.ndarray, n: int, gen: torch.Generator) -> torch.Tensor:
    """n indices drawn with probability 1/count(class) (WeightedRandomSampler's rule)."""
    counts = np.bincount(labels)
    weights = torch.as_tensor(1.0 / counts[labels], dtype=torch.double)
    return torch.multinomial(weights, n, replacement=True, generator=gen)
