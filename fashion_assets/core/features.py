"""Image features from the trained classifier (fc → identity) and cosine neighbours."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .training_batches import normalise


@torch.no_grad()
def extract_features(model: nn.Module, images: torch.Tensor, mean, std, device: torch.device,
                     batch_size: int = 256) -> np.ndarray:
    """512-d penultimate features of a ResNet-18 for every image (N, 3, S, S uint8)."""
    model = model.to(device).eval()
    fc, model.fc = model.fc, nn.Identity()
    try:
        out = []
        for i in range(0, len(images), batch_size):
            x = normalise(images[i:i + batch_size].to(device).float() / 255.0, mean.to(device), std.to(device))
            with torch.autocast(device.type, enabled=device.type == "cuda"):
                out.append(model(x).float().cpu())
    finally:
        model.fc = fc
    return torch.cat(out).numpy().astype(np.float64) if out else np.zeros((0, 512))


def unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def top_k_neighbours(features: np.ndarray, k: int = 10, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """(indices, cosine similarities) of each row's k most similar other rows, in blocks so the
    full similarity matrix is never held at once."""
    x = unit_rows(features)
    k = min(k, len(x) - 1)
    idx = np.empty((len(x), k), dtype=np.int64)
    sim = np.empty((len(x), k))
    for s in range(0, len(x), block):
        s_block = x[s:s + block] @ x.T
        np.fill_diagonal(s_block[:, s:s + block], -np.inf)  # not its own neighbour
        part = np.argpartition(-s_block, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(s_block, part, axis=1)
        order = np.argsort(-vals, axis=1)
        idx[s:s + block] = np.take_along_axis(part, order, axis=1)
        sim[s:s + block] = np.take_along_axis(vals, order, axis=1)
    return idx, sim
