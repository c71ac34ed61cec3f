"""Benchmark: classifier data path on the cropped demo images (run `make run` first).

1. channel statistics: the seed's per-image loop against our vectorised pass, same images;
2. training throughput, same model, batch and image size: a seed-style pipeline (JPEG files →
   DataLoader with PIL transforms; 2 workers, and every core) against ours (uint8 tensor on the
   training device, per-sample augmentation in batches there, mixed precision on CUDA).

Usage: python benchmarks/classifier.py [--root data] [--size 224] [--steps 6] [--warmup 2] [--batch 32]
Writes benchmarks/results/classifier.json.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision import transforms

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

from fashion_assets.core.classifier.training import build_model, pick_device  # noqa: E402
from fashion_assets.core.classifier.batches import augment, normalise  # noqa: E402
from fashion_assets.core.classifier.data import channel_stats, channel_stats_seed_loop, load_uint8  # noqa: E402

HERE = Path(__file__).resolve().parent


class SeedDataset(torch.utils.data.Dataset):
    def __init__(self, paths, labels, tf):
        self.paths, self.labels, self.tf = paths, labels, tf

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return self.tf(Image.open(self.paths[i]).convert("RGB")), self.labels[i]


def train_steps(model, opt, batches, device, steps, warmup, amp):
    """Images per second over ``steps`` optimiser steps after ``warmup`` untimed ones."""
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    n, t0 = 0, None
    for i, (x, y) in enumerate(batches):
        if i == warmup:  # the first steps warm up (allocations, cuDNN autotuning, worker start)
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0, n = time.perf_counter(), 0
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if amp and device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, enabled=amp and device.type == "cuda"):
            loss = loss_fn(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        n += len(y)
        if i == warmup + steps - 1:
            break
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


def fresh_model(device, amp):
    torch.manual_seed(0)
    model = build_model(31).to(device)
    if amp and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return model, torch.optim.Adam(model.parameters(), 1e-3)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--root", default="data")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--batch", type=int, default=32)
    a = p.parse_args()
    con = duckdb.connect(str(Path(a.root) / "warehouse.duckdb"), read_only=True)
    crop = con.execute("select crop as output, file_name from fashion.image_set where split = 'Train'").fetchdf()
    con.close()
    paths = list(crop.output)
    device = pick_device()
    result = {"machine": machine_info(), "device": str(device), "images": len(paths), "image_size": a.size}

    t0 = time.perf_counter()
    seed_mean, seed_std = channel_stats_seed_loop(paths)
    t_seed = time.perf_counter() - t0
    t0 = time.perf_counter()
    mean, std = channel_stats(load_uint8(paths, a.size))
    t_ours = time.perf_counter() - t0
    result["channel_stats"] = {"seed_loop_seconds": round(t_seed, 2), "vectorised_seconds": round(t_ours, 2),
                               "speedup": round(t_seed / t_ours, 1), "seed_loop": [seed_mean, seed_std],
                               "vectorised": [mean, std],
                               "note": "the seed averages per-image stds; ours is the std over all pixels"}

    labels = np.arange(len(paths)) % 31
    seed_tf = transforms.Compose([
        transforms.RandomHorizontalFlip(), transforms.RandomAffine(15, shear=10, fill=255),
        transforms.ColorJitter(0.2, 0.2, 0.2), transforms.RandomResizedCrop(a.size, scale=(0.8, 1.0)),
        transforms.ToTensor(), transforms.Normalize(mean, std)])
    amp = device.type == "cuda"  # mixed precision and channels_last exist on CUDA only
    runs = {}
    # The seed's pipeline as it was (full precision) with 2 loader workers, and the same pipeline
    # given every core of this machine; then its data path with our mixed-precision model, so the
    # data path's share of the difference is visible on its own.
    variants = [("seed_style_2_workers", 2, False)]
    if (os.cpu_count() or 1) > 2:
        variants.append((f"seed_style_{os.cpu_count()}_workers", os.cpu_count(), False))
    if amp:
        variants.append((f"seed_style_{os.cpu_count()}_workers_amp", os.cpu_count(), True))
    for name, workers, use_amp in variants:
        loader = torch.utils.data.DataLoader(SeedDataset(paths, labels, seed_tf), batch_size=a.batch, shuffle=True,
                                             num_workers=workers, drop_last=True, pin_memory=device.type == "cuda",
                                             persistent_workers=False)
        model, opt = fresh_model(device, use_amp)
        runs[name] = round(train_steps(model, opt, loader, device, a.steps, a.warmup, use_amp), 1)
        print(name, runs[name], "img/s", flush=True)

    images = load_uint8(paths, a.size)
    gen = torch.Generator().manual_seed(0)
    m, s = torch.tensor(mean, device=device), torch.tensor(std, device=device)
    on_device = images.to(device)
    labels_d = torch.as_tensor(labels, device=device)

    def ours():
        while True:
            idx = torch.randint(len(paths), (a.batch,), generator=gen).to(device)
            yield normalise(augment(on_device[idx], gen), m, s), labels_d[idx]

    model, opt = fresh_model(device, amp)
    runs["ours"] = round(train_steps(model, opt, ours(), device, a.steps, a.warmup, amp), 1)
    print("ours", runs["ours"], "img/s", flush=True)
    result["training_throughput"] = {
        "images_per_second": runs, "speedup_vs_seed_style_2_workers": round(runs["ours"] / runs["seed_style_2_workers"], 2),
        "speedup_vs_best_seed_style": round(runs["ours"] / max(v for k, v in runs.items() if k != "ours"), 2),
        "batch": a.batch, "timed_steps": a.steps, "warmup_steps": a.warmup, "mixed_precision": amp}
    name = "classifier.json" if device.type == "cpu" else f"classifier_{device.type}.json"
    (HERE / "results" / name).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
