"""Benchmark: does torch.compile pay for ResNet-18 training on this CPU?

The training step of configs/cpu.yaml (96 px, batch 64, channels-last, bfloat16 autocast, AdamW)
on random tensors, eager against torch.compile: the first step (which compiles, from a cold
cache) and images/s over 25 steps after 3 warm-up steps. Augmentation and data loading are left out: they are the
same either way.

Usage: python benchmarks/cpu_compile.py [--size 96] [--steps 25]
Writes benchmarks/results/cpu_compile.json.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

# A cold compile cache, as on a fresh machine (a warm one would hide the compile time).
os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor-")

import torch  # noqa: E402
import torchvision  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

HERE = Path(__file__).resolve().parent


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--steps", type=int, default=25)
    a = p.parse_args()
    torch.manual_seed(0)
    x = torch.rand(64, 3, a.size, a.size).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 31, (64,))
    loss_fn = nn.CrossEntropyLoss()
    result = {"machine": machine_info(), "torch_threads": torch.get_num_threads(), "image_size": a.size,
              "batch": 64, "steps_timed": a.steps, "runs": []}
    for variant in ("eager", "torch.compile"):
        model = torchvision.models.resnet18(num_classes=31).to(memory_format=torch.channels_last)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        run = torch.compile(model) if variant == "torch.compile" else model

        def step():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = loss_fn(run(x).float(), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

        t0 = time.perf_counter()
        step()
        first = time.perf_counter() - t0
        for _ in range(3):
            step()
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step()
        row = {"variant": variant, "first_step_seconds": round(first, 1),
               "images_per_second": round(a.steps * 64 / (time.perf_counter() - t0), 1)}
        result["runs"].append(row)
        print(json.dumps(row), flush=True)
    eager, compiled = (r["images_per_second"] for r in result["runs"])
    result["compiled_vs_eager"] = round(compiled / eager, 2)
    (HERE / "results" / "cpu_compile.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
