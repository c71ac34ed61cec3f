"""Benchmark: the network alone against the network pooled with the colour histograms, for every
classifier version registered on a data root (no version picked by hand).

For each registered ``style_classifier`` version, exactly as the asset does it: the same split
(training images, the stratified holdout, seed 42), the colour-histogram baseline fitted on the
training part at the checkpoint's input size (C on the holdout), the network's weight chosen by
holdout log-loss (``core/ensemble.py``), then all and unseen validation images scored once, with
95% intervals and paired leads (``core/evaluation.py``). A version that already keeps a colour
expert must get the same weight again (checked), so the figures are the product's.

Usage: python benchmarks/pooled_classifier.py --root benchmarks/work/photo_full
Writes benchmarks/results/pooled_classifier.json.
"""

import argparse
import json
import sys
from pathlib import Path

import duckdb
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

from fashion_assets.core.classifier.data import known_images as known  # noqa: E402
from fashion_assets.core.classifier.style import NETWORK, POOLED  # noqa: E402
from fashion_assets.core.registry import STYLE_MODEL as MODEL_NAME  # noqa: E402
from fashion_assets.core.classifier.baselines import classifier_baselines  # noqa: E402
from fashion_assets.core.classifier.training import load_classifier  # noqa: E402
from fashion_assets.core.classifier.ensemble import choose_weight, pool  # noqa: E402
from fashion_assets.core.classifier.evaluation import comparison_table, readable_comparison  # noqa: E402
from fashion_assets.core.classifier.inference import predict_logits  # noqa: E402
from fashion_assets.core.registry import Registry  # noqa: E402
from fashion_assets.core.classifier.data import holdout_split, load_uint8  # noqa: E402

HERE = Path(__file__).resolve().parent
COLOUR = "colour_histogram_logreg"


def evaluate(label: str, ckpt_path: Path, image_set, seen: set, holdout_fraction: float) -> dict:
    model, ckpt = load_classifier(ckpt_path)
    names, size, flip = list(ckpt["class_names"]), ckpt["config"]["image_size"], ckpt["recipe"]["tta_flip"]
    index = {c: i for i, c in enumerate(names)}
    train, val = known(image_set, "Train"), known(image_set, "Validation")
    val = val[val.class_label.isin(index)].reset_index(drop=True)
    unseen = ~val.file_name.isin(seen).to_numpy()
    y_train, y_val = train.class_label.map(index).to_numpy(), val.class_label.map(index).to_numpy()
    tr, ho = holdout_split(y_train, holdout_fraction, seed=42)
    x_train, x_val = load_uint8(list(train.crop), size), load_uint8(list(val.crop), size)
    cpu = torch.device("cpu")
    logits = {part: predict_logits(model, x, ckpt["mean"], ckpt["std"], cpu, tta_flip=flip).numpy()
              for part, x in (("holdout", x_train[ho]), ("validation", x_val))}
    majority, colour = classifier_baselines(x_train[tr], y_train[tr], x_train[ho], y_train[ho], x_val, len(names))
    weight, losses = choose_weight(logits["holdout"], colour.holdout_log_proba, y_train[ho])
    stored = ckpt.get("colour_expert", {}).get("weight")
    if stored is not None and stored != weight:
        raise SystemExit(f"{ckpt_path}: weight {weight} recomputed, {stored} stored — not the asset's procedure")
    pooled_ho = pool(logits["holdout"], colour.holdout_log_proba, weight).argmax(1)
    models = {POOLED: (float((pooled_ho == y_train[ho]).mean()),
                       pool(logits["validation"], colour.validation_log_proba, weight).argmax(1)),
              NETWORK: (float((logits["holdout"].argmax(1) == y_train[ho]).mean()), logits["validation"].argmax(1)),
              COLOUR: (colour.holdout_accuracy, colour.validation_predictions),
              majority.name: (majority.holdout_accuracy, majority.validation_predictions)}
    tables = {}
    for first in (POOLED, NETWORK):
        table = comparison_table(y_val, unseen, {first: models[first], **{k: v for k, v in models.items() if k != first}})
        print(f"\n{label} ({size} px), {first} first:\n"
              + readable_comparison(table).to_string(index=False), flush=True)
        tables[first] = table.round(4).to_dict(orient="records")
    return {"image_size": size, "config": {k: ckpt["config"].get(k) for k in ("recipe", "epochs", "samples_per_epoch")},
            "overrides": ckpt["config"].get("overrides"), "best_epoch": ckpt["best"]["epoch"],
            "network_weight": weight, "weight_stored_in_checkpoint": stored, "colour_setting": colour.setting,
            "holdout_log_loss_by_network_weight": {str(w): round(v, 4) for w, v in losses.items()},
            "holdout_images": int(len(ho)), "validation_images": int(len(y_val)), "unseen_images": int(unseen.sum()),
            "comparison": tables}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True, help="a data root with registered style_classifier versions")
    ap.add_argument("--holdout-fraction", type=float, default=0.15, help="style_classifier's holdout_fraction")
    ap.add_argument("--out", default="pooled_classifier")
    args = ap.parse_args()
    root = Path(args.root)
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        image_set = con.sql("select * from fashion.image_set").df()
        leakage = con.sql("select * from fashion.leakage_report").df()
    seen = set(leakage.loc[leakage.kind.isin(["image_same_name", "image_same_content"]), "file_name"])
    versions = {}
    for v in Registry(root / "mlflow").versions(MODEL_NAME):
        print(f"version {v.version}: {v.checkpoint}", flush=True)
        versions[str(v.version)] = evaluate(f"version {v.version}", v.checkpoint, image_set, seen, args.holdout_fraction)
    out = HERE / "results" / f"{args.out}.json"
    out.write_text(json.dumps({"machine": machine_info(), "data_root": str(root), "versions": versions}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
