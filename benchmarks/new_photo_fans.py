"""Benchmark: ranking every respondent for new photos, at the seed's full scale.

What ``incoming_predictions`` does after the ONNX pass: score every respondent for every new
photo with the preference methods that can score an unanswered image (``score_new_images``),
then take each photo's top 5. Synthetic data of the full-scale shapes: 4,075 respondents,
20,303 training answers about 4,492 distinct images with 512-d features (SPEC §2), photos in
batches of 1, 20 and 100. The fit is made once beforehand (the asset loads it).

Usage: python benchmarks/new_photo_fans.py
Writes benchmarks/results/new_photo_fans.json.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

from fashion_assets.core.preferences.features import best_k  # noqa: E402
from fashion_assets.core.preferences.methods import fit_methods, score_new_images  # noqa: E402
from fashion_assets.core.preferences.scores import encode  # noqa: E402

HERE = Path(__file__).resolve().parent
RESPONDENTS, ANSWERS, IMAGES, DIM = 4075, 20303, 4492, 512


def main() -> int:
    rng = np.random.default_rng(0)
    x = np.abs(rng.normal(size=(IMAGES, DIM)))
    taste = rng.normal(size=(RESPONDENTS, DIM))
    r, i = rng.integers(0, RESPONDENTS, ANSWERS), rng.integers(0, IMAGES, ANSWERS)
    like = ((taste[r] * (x[i] - x.mean(0))).sum(1) > 0).astype(int)
    names = [f"img{k}" for k in range(IMAGES)]
    train = pd.DataFrame({"R_id": r, "jpg_name": np.array(names)[i], "like": like})
    e_train, _ = encode(train, train.iloc[:0], names)
    t0 = time.perf_counter()
    fit = fit_methods(x, e_train, autoencoder_epochs=20)
    result = {"machine": machine_info(), "respondents": int(e_train.n_resp), "training_answers": ANSWERS,
              "images": IMAGES, "fit_seconds (once, not per batch)": round(time.perf_counter() - t0, 2), "runs": []}
    for photos in (1, 20, 100):
        new = np.abs(rng.normal(size=(photos, DIM)))
        t0 = time.perf_counter()
        scores = score_new_images(x, fit, e_train, new)
        for method in scores:
            best_k(scores[method], 5)
        seconds = time.perf_counter() - t0
        row = {"photos": photos, "seconds_all_methods": round(seconds, 3), "photos_per_second": round(photos / seconds, 1)}
        result["runs"].append(row)
        print(json.dumps(row), flush=True)
    (HERE / "results" / "new_photo_fans.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
