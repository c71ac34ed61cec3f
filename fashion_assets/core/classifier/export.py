"""A trained classifier as one portable ONNX file: uint8 images in, logits and the 512-d features
out. The normalisation and test-time flip are part of the graph, so a consumer (onnxruntime, in
any language) needs no settings besides the input size, and gets what ``inference.infer`` gives.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..common.atomic import atomic_path
from .inference import infer

INPUT, OUTPUTS = "images", ("logits", "features")
OPSET = 17


class Portable(nn.Module):
    """(N, 3, S, S) uint8 → (logits, features), as ``infer`` computes them on a CPU."""

    def __init__(self, model: nn.Module, mean, std, tta_flip: bool):
        from torchvision.models.feature_extraction import create_feature_extractor  # here: a slow import

        super().__init__()
        self.model = model.eval()
        self.body = create_feature_extractor(self.model, {"flatten": "features", "fc": "logits"})
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.tta_flip = tta_flip

    def forward(self, images: torch.Tensor):
        x = (images.float() / 255.0 - self.mean) / self.std
        out = self.body(x)
        logits = out["logits"]
        if self.tta_flip:
            logits = (logits + self.model(torch.flip(x, dims=[3]))) / 2
        return logits, out["features"]


def export_onnx(model: nn.Module, mean, std, tta_flip: bool, image_size: int, path: Path) -> Path:
    """Write the portable model to ``path`` (atomically); the batch dimension is dynamic."""
    portable = Portable(model.cpu(), mean, std, tta_flip).eval()
    example = torch.zeros((2, 3, image_size, image_size), dtype=torch.uint8)
    with atomic_path(path) as tmp, torch.no_grad():
        torch.onnx.export(portable, (example,), str(tmp), dynamo=False, opset_version=OPSET, input_names=[INPUT],
                          output_names=list(OUTPUTS), dynamic_axes={INPUT: {0: "batch"}, **{o: {0: "batch"} for o in OUTPUTS}})
    return path


def onnx_session(path: str | Path, threads: int = 0):
    """An onnxruntime CPU session of an exported model (``threads`` 0: onnxruntime's default)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_onnx(session, images: torch.Tensor | np.ndarray, batch_size: int = 64) -> dict[str, np.ndarray]:
    """{"logits", "features"} of uint8 images (N, 3, S, S) through an onnxruntime session."""
    x = images.numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    parts = [session.run(list(OUTPUTS), {INPUT: x[i:i + batch_size]}) for i in range(0, len(x), batch_size)]
    return {name: np.concatenate([p[k] for p in parts]) for k, name in enumerate(OUTPUTS)}


def parity(model: nn.Module, session, images: torch.Tensor, mean, std, tta_flip: bool) -> dict[str, float]:
    """Largest absolute difference between onnxruntime and torch (``infer`` on the CPU), per output."""
    ours = run_onnx(session, images)
    ref = infer(model.cpu(), images, mean, std, torch.device("cpu"), tta_flip=tta_flip, features=True)
    return {name: float(np.abs(ours[name] - ref[name].numpy()).max()) if len(images) else 0.0 for name in OUTPUTS}


def images_per_second(fn, images, repeats: int = 3) -> float:
    """Best of ``repeats`` timings of ``fn(images)``, in images per second."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(images)
        best = min(best, time.perf_counter() - t0)
    return len(images) / best


def export_and_check(checkpoint: str | Path, crops: list[str], folder: Path) -> dict:
    """Export a checkpoint to ``folder/classifier.onnx`` (its colour expert, if any, beside it as
    ``colour_expert.json``), compare onnxruntime with torch on ``crops`` and time both once on the
    CPU (benchmarks/onnx_inference.py takes the best of three). Returns the paths, the largest
    difference per output, the images/s per runtime and how many crops were checked."""
    import json

    from ..common.atomic import write_bytes
    from .data import load_uint8
    from .training import classifier_settings, load_classifier

    model, ckpt = load_classifier(checkpoint)
    s = classifier_settings(ckpt)
    path = export_onnx(model, s["mean"], s["std"], s["tta_flip"], s["image_size"], folder / "classifier.onnx")
    colour = None
    if "colour_expert" in ckpt:  # the expert the logits are pooled with (ensemble.py), beside the graph
        colour = write_bytes(folder / "colour_expert.json", json.dumps(ckpt["colour_expert"]).encode())
    images = load_uint8(crops, s["image_size"])
    session = onnx_session(path)
    difference = parity(model, session, images, s["mean"], s["std"], s["tta_flip"])
    cpu = torch.device("cpu")
    speed = {"onnxruntime": images_per_second(lambda x: run_onnx(session, x), images, repeats=1),
             "torch": images_per_second(lambda x: infer(model, x, s["mean"], s["std"], cpu, batch_size=64,
                                                        tta_flip=s["tta_flip"], features=True), images, repeats=1)}
    return {"path": path, "colour_expert": colour, "difference": difference, "speed": speed, "checked": len(images)}
