"""Evidence for the recipe choice: seed vs improved on the same demo data, same budget.

Both train on the cropped demo training images minus a stratified holdout; the epoch is chosen on
the holdout; the official validation set is scored once (all images and unseen ones). The seed
protocol (best validation epoch) is recorded beside it, labelled.

Usage: python benchmarks/classifier_recipes.py [--root data] [--size 64] [--epochs 20] [--per-epoch 1024]
Writes benchmarks/results/classifier_recipes.json.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

from fashion_assets.core.classifier.training import TrainConfig, fit, load_classifier, pick_device  # noqa: E402
from fashion_assets.core.classifier.inference import predict_logits  # noqa: E402
from fashion_assets.core.classifier.evaluation import summary  # noqa: E402
from fashion_assets.core.classifier.data import channel_stats, holdout_split, load_uint8, training_plan  # noqa: E402

HERE = Path(__file__).resolve().parent


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--root", default="data")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--per-epoch", type=int, default=1024)
    p.add_argument("--recipes", default="seed,improved")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--out", default="", help="result file name (default classifier_recipes[_<device>].json)")
    a = p.parse_args()
    con = duckdb.connect(str(Path(a.root) / "warehouse.duckdb"), read_only=True)
    crop = con.execute("""select split, file_name, crop as output, class_label from fashion.image_set
                          where style_known""").fetchdf()
    seen = set(con.execute("""select file_name from fashion.leakage_report
                              where kind in ('image_same_name', 'image_same_content')""").fetchdf().file_name)
    con.close()
    train, val = crop[crop.split == "Train"].sort_values("file_name"), crop[crop.split == "Validation"].sort_values("file_name")
    plan = training_plan(train.class_label)
    index = {c: i for i, c in enumerate(plan.class_label)}
    xt, yt = load_uint8(list(train.output), a.size), train.class_label.map(index).to_numpy()
    xv, yv = load_uint8(list(val.output), a.size), val.class_label.map(index).to_numpy()
    unseen = ~val.file_name.isin(seen).to_numpy()
    tr, ho = holdout_split(yt, 0.15, 42)
    mean, std = (torch.tensor(v) for v in channel_stats(xt[tr]))
    device = pick_device()
    result = {"machine": machine_info(), "device": str(device), "train_images": len(tr), "holdout_images": len(ho),
              "validation_images": len(yv), "unseen_validation_images": int(unseen.sum()), "image_size": a.size,
              "epochs": a.epochs, "samples_per_epoch": a.per_epoch, "batch": a.batch, "recipes": {}}
    name = a.out or ("classifier_recipes.json" if device.type == "cpu" else f"classifier_recipes_{device.type}.json")
    for recipe in a.recipes.split(","):
        cfg = TrainConfig(recipe=recipe, epochs=a.epochs, batch_size=a.batch, image_size=a.size,
                          samples_per_epoch=a.per_epoch, patience=a.epochs)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            res = fit((xt[tr], yt[tr]), (xt[ho], yt[ho]), list(plan.class_label), mean, std, cfg, device, Path(tmp),
                      validation=(xv, yv), log=lambda m: print(recipe, m, flush=True), resume=False)
            model, ckpt = load_classifier(res["best_path"], device)
            pred = predict_logits(model, xv, mean, std, device, tta_flip=ckpt["recipe"]["tta_flip"]).argmax(1).numpy()
        s = summary(yv, pred, unseen)
        result["recipes"][recipe] = {
            "holdout_accuracy": round(res["best"]["holdout_accuracy"], 4), "best_epoch": res["best"]["epoch"],
            "validation_accuracy": round(s["validation_accuracy"], 4), "unseen_accuracy": round(s["unseen_accuracy"], 4),
            "seed_protocol_validation_accuracy": round(max(h["validation_accuracy"] for h in res["history"]), 4),
            "minutes": round((time.perf_counter() - t0) / 60, 1)}
        (HERE / "results" / name).write_text(json.dumps(result, indent=2) + "\n")  # after each recipe: partial runs survive
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
