"""Benchmark: choosing the CPU training config — the input size on the holdout, under one time budget.

For each input size, ResNet-18 (from scratch) is trained through the asset's own loop
(fashion_assets.core.classifier.training.fit, channels-last + bf16 autocast where the CPU has bf16) on
the data root's training images for the same wall-clock budget: a short first epoch measures the
speed, and the number of samples is set so that the epochs fill the budget. The size with the
best holdout accuracy (the holdout carved from training, as the asset does; no validation image
is used) is the one configs/cpu.yaml uses. Recorded per size: images/s, samples, minutes, the
best holdout accuracy and its epoch.

Usage: python benchmarks/cpu_config.py --root DATA_ROOT [--sizes 64,96,128] [--minutes 4] [--epochs 6]
Writes benchmarks/results/cpu_config.json.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402
from training_set import training_split  # noqa: E402

HERE = Path(__file__).resolve().parent


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--sizes", default="64,96,128")
    p.add_argument("--minutes", type=float, default=4.0, help="training budget per size")
    p.add_argument("--epochs", type=int, default=6)
    a = p.parse_args()
    from fashion_assets.core.classifier.training import TrainConfig, fit
    from fashion_assets.core.classifier.data import channel_stats, load_uint8

    train, names, y, tr, ho = training_split(a.root)
    result = {"machine": machine_info(), "torch_threads": torch.get_num_threads(), "train_images": int(len(tr)),
              "holdout_images": int(len(ho)), "minutes_per_size": a.minutes, "epochs": a.epochs,
              "flags": {"cpu_channels_last": True, "cpu_bf16": True}, "runs": []}
    for size in map(int, a.sizes.split(",")):
        x = load_uint8(list(train.crop), size)
        mean, std = (torch.tensor(v) for v in channel_stats(x[tr]))

        def train_for(epochs: int, samples: int) -> dict:
            cfg = TrainConfig(recipe="improved", epochs=epochs, batch_size=64, image_size=size, samples_per_epoch=samples,
                              patience=epochs, cpu_channels_last=True, cpu_bf16=True)
            with tempfile.TemporaryDirectory() as tmp:
                return fit((x[tr], y[tr]), (x[ho], y[ho]), names, mean, std, cfg, torch.device("cpu"), Path(tmp),
                           log=lambda _: None, resume=False)

        speed = train_for(1, 512)["history"][0]["images_per_second"]
        samples = int(speed * a.minutes * 60 / a.epochs) // 64 * 64
        t0 = time.perf_counter()
        out = train_for(a.epochs, samples)
        row = {"image_size": size, "images_per_second": round(float(speed), 1), "samples_per_epoch": samples,
               "minutes": round((time.perf_counter() - t0) / 60, 2),
               "best_holdout_accuracy": round(out["best"]["holdout_accuracy"], 4), "best_epoch": out["best"]["epoch"],
               "holdout_per_epoch": [round(h["holdout_accuracy"], 4) for h in out["history"]]}
        result["runs"].append(row)
        print(json.dumps(row), flush=True)
    best = max(result["runs"], key=lambda r: r["best_holdout_accuracy"])
    result["chosen_image_size"] = best["image_size"]
    (HERE / "results" / "cpu_config.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"chosen on the holdout: {best['image_size']} px")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
