"""Benchmark: the seed's item-based score, vectorised vs the seed's per-pair loop, at full scale.

Answers are the full-scale demo plan's valid answers (16,095 training / 4,104 validation); image
features are random 512-d non-negative vectors (speed does not depend on their values). The two
implementations must agree to 1e-9.

Usage: python benchmarks/preference_speed.py [--scale 1.0] [--repeats 9]. Writes benchmarks/results/preference_speed.json.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

from fashion_assets.demo_data.writer import GeneratorConfig, plan_dataset  # noqa: E402
from fashion_assets.core.preferences.scores import encode, seed_scores, seed_scores_reference  # noqa: E402

HERE = Path(__file__).resolve().parent


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--repeats", type=int, default=9)
    a = p.parse_args()
    images, labels = plan_dataset(GeneratorConfig(scale=a.scale), np.random.default_rng(0))
    real = set(zip(images.split, images.file_name))
    valid = labels[[(s, j) in real for s, j in zip(labels.split, labels.jpg_name)]]
    valid = valid.assign(like=(valid.Q5 == 2).astype(int))[["R_id", "jpg_name", "like", "split"]]
    train, test = valid[valid.split == "Train"], valid[valid.split == "Validation"].reset_index(drop=True)
    names = sorted(set(images.file_name))
    x = np.abs(np.random.default_rng(1).normal(size=(len(names), 512)))
    tr, te = encode(train, test, names)
    def timed(fn, repeats):
        """Median wall time of ``repeats`` calls, and the last result."""
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
        return float(np.median(times)), out

    seed_scores(x, tr, te)  # warm-up: first-call imports and allocations
    t_fast, fast = timed(lambda: seed_scores(x, tr, te), a.repeats)
    t_ref, ref = timed(lambda: seed_scores_reference({n: x[k] for k, n in enumerate(names)}, train, test), 3)
    diff = float(np.abs(fast - ref).max())
    result = {"machine": machine_info(), "scale": a.scale, "train_answers": len(train), "validation_answers": len(test),
              "images": len(names), "vectorised_seconds": round(t_fast, 4), "per_pair_loop_seconds": round(t_ref, 2),
              "timing": f"median of {a.repeats} runs (vectorised) and of 3 runs (per-pair loop)",
              "speedup": round(t_ref / t_fast, 1), "max_abs_difference": diff}
    assert diff < 1e-9, diff
    (HERE / "results" / "preference_speed.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
