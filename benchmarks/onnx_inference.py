"""Benchmark: CPU inference of the exported classifier, onnxruntime against torch.

The same ResNet-18 (31 classes; throughput does not depend on the weights, so it is initialised
as training would start) exported with fashion_assets.core.classifier.export (normalisation and test-time
flip in the graph, logits and 512-d features out), on the same uint8 images, at the CPU config's
64 px and the GPU config's 224 px; batch 64, best of 3 timings, default thread settings of both.
The largest difference between the two is recorded too, beside the largest logit (an untrained
network's logits are large, and float rounding differences scale with them; the asset checks the
trained model).

Usage: python benchmarks/onnx_inference.py [--images 256]
Writes benchmarks/results/onnx_inference.json.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

from fashion_assets.core.classifier.training import build_model  # noqa: E402
from fashion_assets.core.classifier.export import export_onnx, images_per_second, onnx_session, parity, run_onnx  # noqa: E402
from fashion_assets.core.classifier.inference import infer  # noqa: E402

HERE = Path(__file__).resolve().parent


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=256)
    a = p.parse_args()
    torch.manual_seed(0)
    model = build_model(31).eval()
    mean, std = [0.87, 0.86, 0.86], [0.26, 0.27, 0.28]
    result = {"machine": machine_info(), "torch_threads": torch.get_num_threads(), "images": a.images, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        for size in (64, 224):
            for flip in (False, True):
                images = torch.randint(0, 256, (a.images, 3, size, size), dtype=torch.uint8)
                session = onnx_session(export_onnx(model, mean, std, flip, size, Path(tmp) / f"m{size}{flip}.onnx"))
                ort = images_per_second(lambda x: run_onnx(session, x, batch_size=64), images)
                ref = images_per_second(lambda x: infer(model, x, mean, std, torch.device("cpu"), batch_size=64,
                                                        tta_flip=flip, features=True), images)
                row = {"image_size": size, "tta_flip": flip, "onnxruntime_images_per_second": round(ort, 1),
                       "torch_images_per_second": round(ref, 1), "onnxruntime_over_torch": round(ort / ref, 2),
                       "max_abs_difference": parity(model, session, images[:64], mean, std, flip),
                       # An untrained network's logits are large; the difference scales with them.
                       "max_abs_logit": float(run_onnx(session, images[:64])["logits"].__abs__().max())}
                result["runs"].append(row)
                print(json.dumps(row), flush=True)
    (HERE / "results" / "onnx_inference.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
