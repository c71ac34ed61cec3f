"""Benchmark: ResNet-18 training speed on the CPU, today's loop against channels-last memory
layout and bfloat16 autocast (TrainConfig.cpu_channels_last / cpu_bf16).

Each variant trains the same model from the same seed on the same images (the data root's
image_set: training images with a known class, the asset's stratified holdout) for a few short
epochs, through fashion_assets.core.classifier.training.fit — the loop the asset runs. Recorded per
variant: training images/s (augmentation included; mean over epochs after the first) and the
best holdout accuracy (a few epochs on the demo data: a check that a variant does not break
learning, not a measure of which learns best).

Usage: python benchmarks/cpu_training.py [--root data] [--sizes 64,96] [--epochs 3]
Writes benchmarks/results/cpu_training.json.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402
from training_set import training_split  # noqa: E402

HERE = Path(__file__).resolve().parent
VARIANTS = {"today (fp32, contiguous)": {}, "channels_last": {"cpu_channels_last": True},
            "bf16 autocast": {"cpu_bf16": True}, "channels_last + bf16": {"cpu_channels_last": True, "cpu_bf16": True}}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--root", default="data")
    p.add_argument("--sizes", default="64,96")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--samples", type=int, default=1024)
    a = p.parse_args()
    from fashion_assets.core.classifier.training import TrainConfig, fit
    from fashion_assets.core.classifier.data import channel_stats, load_uint8

    train, names, y, tr, ho = training_split(a.root)
    result = {"machine": machine_info(), "torch_threads": torch.get_num_threads(), "train_images": int(len(tr)),
              "holdout_images": int(len(ho)), "epochs": a.epochs, "samples_per_epoch": a.samples, "runs": []}
    for size in map(int, a.sizes.split(",")):
        x = load_uint8(list(train.crop), size)
        mean, std = (torch.tensor(v) for v in channel_stats(x[tr]))
        for name, flags in VARIANTS.items():
            cfg = TrainConfig(recipe="improved", epochs=a.epochs, batch_size=64, image_size=size,
                              samples_per_epoch=a.samples, patience=a.epochs, **flags)
            with tempfile.TemporaryDirectory() as tmp:
                out = fit((x[tr], y[tr]), (x[ho], y[ho]), names, mean, std, cfg, torch.device("cpu"), Path(tmp),
                          log=lambda _: None, resume=False)
            speeds = [h["images_per_second"] for h in out["history"]][1:] or [out["history"][0]["images_per_second"]]
            row = {"image_size": size, "variant": name, "images_per_second": round(float(np.mean(speeds)), 1),
                   "best_holdout_accuracy": round(out["best"]["holdout_accuracy"], 4)}
            result["runs"].append(row)
            print(json.dumps(row), flush=True)
        base = next(r["images_per_second"] for r in result["runs"] if r["image_size"] == size and r["variant"].startswith("today"))
        for r in result["runs"]:
            if r["image_size"] == size:
                r["speedup_vs_today"] = round(r["images_per_second"] / base, 2)
    (HERE / "results" / "cpu_training.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
