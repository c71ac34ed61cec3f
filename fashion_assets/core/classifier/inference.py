"""Batched inference of a trained classifier: logits, and the 512-d features before the head.

One function serves prediction and feature extraction; the features come from torchvision's
feature extractor (the ``flatten`` node before ``fc``), so the model is never modified.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .batches import normalise


@torch.no_grad()
def infer(model: nn.Module, images: torch.Tensor, mean, std, device: torch.device, batch_size: int = 256,
          tta_flip: bool = False, features: bool = False) -> dict[str, torch.Tensor]:
    """{"logits": (N, classes)} and, with ``features``, {"features": (N, 512)} for uint8 images
    (N, 3, S, S). ``tta_flip`` averages the logits of the image and its mirror image."""
    from torchvision.models.feature_extraction import create_feature_extractor  # here: torchvision's import is slow

    model = model.to(device).eval()
    net = create_feature_extractor(model, {"flatten": "features", "fc": "logits"}) if features else None
    mean, std = torch.as_tensor(mean, dtype=torch.float32).to(device), torch.as_tensor(std, dtype=torch.float32).to(device)
    out: dict[str, list] = {"logits": [], "features": []}
    for i in range(0, len(images), batch_size):
        x = normalise(images[i:i + batch_size].to(device, non_blocking=True).float() / 255.0, mean, std)
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, enabled=device.type == "cuda"):
            res = net(x) if net else {"logits": model(x)}
            logits = res["logits"].float()
            if tta_flip:
                logits = (logits + model(torch.flip(x, dims=[3])).float()) / 2
        out["logits"].append(logits.cpu())
        if features:
            out["features"].append(res["features"].float().cpu())
    return {k: torch.cat(v) for k, v in out.items() if v}


def predict_logits(model: nn.Module, images: torch.Tensor, mean, std, device: torch.device,
                   tta_flip: bool = False) -> torch.Tensor:
    if len(images) == 0:
        return torch.zeros(0)
    return infer(model, images, mean, std, device, tta_flip=tta_flip)["logits"]


def extract_features(model: nn.Module, images: torch.Tensor, mean, std, device: torch.device) -> np.ndarray:
    """512-d penultimate features of every image (float64, for the cosine arithmetic downstream)."""
    if len(images) == 0:
        return np.zeros((0, model.fc.in_features))
    return infer(model, images, mean, std, device, features=True)["features"].numpy().astype(np.float64)


def features_of_files(checkpoint: str | Path, paths: list[str], device: torch.device) -> tuple[np.ndarray, dict]:
    """The 512-d features of image files under a classifier checkpoint (its image size and
    normalisation), and the checkpoint dict: the one feature extraction every matrix uses."""
    from .data import load_uint8
    from .training import load_classifier

    model, ckpt = load_classifier(checkpoint)
    images = load_uint8(list(paths), ckpt["config"]["image_size"])
    return extract_features(model, images, ckpt["mean"], ckpt["std"], device), ckpt
