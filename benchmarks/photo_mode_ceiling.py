"""Benchmark: how well could any classifier do on photo-mode data? The ceiling that the
generator's own recipes leave (classes overlap by design), against what the CNN reaches.

Outfits are drawn with the generator's Dresser (the recipes that dressed the photo-mode figures)
for every sex&style class, in the training set's class counts, and a logistic regression is fit
on what the garments *are* — each slot's article type, colour, usage and gender, one-hot — as a
model with perfect perception of the garments would see them. It is scored on fresh outfits drawn
in the validation set's class counts. C is chosen by 5-fold cross-validation on the training draw
only. Also with only the colours, and only the article types, and with ten times the training
draw. No image is rendered and no validation image is used: this bounds what is learnable, it is
not a model of the product.

Usage: python benchmarks/photo_mode_ceiling.py [--root benchmarks/work/photo_full]
       [--catalogue ../shared/datasets/fashion-products]
Writes benchmarks/results/photo_mode_ceiling.json.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegressionCV
from sklearn.preprocessing import OneHotEncoder

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

from fashion_assets.demo_data.wardrobe import Dresser, load_wardrobe  # noqa: E402

HERE = Path(__file__).resolve().parent
SLOTS = ("top", "bottom", "shoes", "accessory")
FIELDS = ("articleType", "colour", "usage", "gender")


def draw(dresser: Dresser, by_path: pd.DataFrame, counts: dict, scale: float, rng) -> tuple[pd.DataFrame, np.ndarray]:
    """Outfits in the given class counts (× scale): each slot's garment fields, 'none' when empty."""
    rows, labels = [], []
    for label, n in sorted(counts.items()):
        style, sex = label.rsplit("_", 1)
        for _ in range(int(round(n * scale))):
            outfit = dresser.outfit(style, sex, rng)
            row = {}
            for slot in SLOTS:
                item = by_path.loc[outfit[f"{slot}_path"]] if outfit[f"{slot}_path"] else None
                row.update({f"{slot}_{f}": (item[f] if item is not None else "none") for f in FIELDS})
            rows.append(row)
            labels.append(label)
    return pd.DataFrame(rows), np.array(labels)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--root", default=str(HERE / "work" / "photo_full"))
    p.add_argument("--catalogue", default=str(HERE.parent.parent / "shared" / "datasets" / "fashion-products"))
    a = p.parse_args()
    generated = json.loads((Path(a.root) / "raw" / "GENERATED.json").read_text())
    train_counts, val_counts = (generated["images_per_class"][s] for s in ("Train", "Validation"))
    wardrobe = load_wardrobe(a.catalogue)
    dresser, by_path = Dresser(wardrobe), wardrobe.set_index("path")
    rng = np.random.default_rng(0)
    train, y_train = draw(dresser, by_path, train_counts, 1, rng)
    big, y_big = draw(dresser, by_path, train_counts, 10, rng)
    test, y_test = draw(dresser, by_path, val_counts, 10, rng)
    result = {"machine": machine_info(), "data_root": a.root, "training_outfits": len(y_train),
              "test_outfits": len(y_test), "majority_class": round(max(val_counts.values()) / sum(val_counts.values()), 4),
              "runs": []}
    subsets = {"every field": FIELDS, "colours only": ("colour",), "article types only": ("articleType",)}
    for name, fields in subsets.items():
        columns = [f"{s}_{f}" for s in SLOTS for f in fields]
        encoder = OneHotEncoder(handle_unknown="ignore").fit(pd.concat([big[columns], train[columns]]))
        for size, (x, y) in (("training-set size", (train, y_train)), ("10x the training set", (big, y_big))):
            if name != "every field" and size != "training-set size":
                continue
            model = LogisticRegressionCV(Cs=[0.03, 0.1, 0.3, 1.0], cv=5, max_iter=3000).fit(encoder.transform(x[columns]), y)
            accuracy = float((model.predict(encoder.transform(test[columns])) == y_test).mean())
            row = {"features": name, "training_outfits": size, "C": float(model.C_[0]), "accuracy": round(accuracy, 4)}
            result["runs"].append(row)
            print(json.dumps(row), flush=True)
    (HERE / "results" / "photo_mode_ceiling.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
