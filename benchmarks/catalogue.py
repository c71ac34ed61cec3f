"""Benchmark: the catalogue's two classifiers per label level on the full shared catalogue subset:
ResNet-18 from scratch (the asset's defaults: 64 px, 10 epochs) and EfficientNet-Lite0 fine-tuned
from its ImageNet weights (its defaults: 96 px, 5 epochs, `make pretrained` first), in one
catalogue_job run per level, so both see the same splits and the champion rule picks one.

Usage: python benchmarks/catalogue.py [--catalogue ../shared/datasets/fashion-products]
       [--levels masterCategory,Class,articleType] [--transfer SIZE,EPOCHS]
``--transfer`` trains only the transfer classifier, at another image size and epoch count, and
keeps it under ``transfer_variants`` (no champion, no recommendations).
Writes benchmarks/results/catalogue.json (per level and model: accuracy, macro/weighted F1 on the
test split scored once, validation accuracy, training minutes; which became champion and the
precision@5 of the recommendations from its features), beside the seeds' reported figures.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

from fashion_assets.assets.product_models import ProductClassifierConfig, ProductTransferConfig  # noqa: E402
from fashion_assets.definitions import build_definitions  # noqa: E402

HERE = Path(__file__).resolve().parent
MODELS = {"product_classifier": ProductClassifierConfig, "product_transfer_classifier": ProductTransferConfig}
SEED_FIGURES = {"masterCategory": "96% (VGG16 transfer, seed 003)", "Class": "91–92% on 30 classes at 80×60 (seed 004)",
                "articleType": "84.7% simple CNN; 90% MobileNetV2 transfer on 70 types (seed 002)"}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--catalogue", default=str(HERE.parent.parent / "shared" / "datasets" / "fashion-products"))
    p.add_argument("--levels", default="masterCategory,Class,articleType")
    p.add_argument("--transfer", help="SIZE,EPOCHS: the transfer classifier alone with these settings")
    a = p.parse_args()
    if a.transfer:
        return transfer_variant(a)
    out = HERE / "results" / "catalogue.json"
    # Levels measured earlier by this version of the benchmark are kept; the ones run now replace theirs.
    result = json.loads(out.read_text()) if out.exists() else {}
    if result.get("models") != list(MODELS):
        result = {"levels": {}}
    result.update({"machine": machine_info(), "models": list(MODELS),
                   "settings": {name: {k: v for k, v in config().model_dump().items() if k != "level"}
                                for name, config in MODELS.items()}})
    with tempfile.TemporaryDirectory() as tmp:
        defs = build_definitions(tmp, catalogue_root=a.catalogue)
        for level in a.levels.split(","):
            config = {"ops": {name: {"config": {"level": level}} for name in MODELS}}
            t0 = time.perf_counter()
            with dg.DagsterInstance.ephemeral() as instance:
                run = defs.resolve_job_def("catalogue_job").execute_in_process(instance=instance, run_config=config)
                steps = {s.step_key: s for s in instance.get_run_step_stats(run.run_id)}
            recs = run.asset_materializations_for_node("product_recommendations")[0].metadata
            champion = run.asset_materializations_for_node("product_champion")[0].metadata["registered_version"].value
            entry = {"seed_reported": SEED_FIGURES.get(level), "job_minutes": round((time.perf_counter() - t0) / 60, 1),
                     "champion_registered_version": champion,
                     "precision_at_5_same_articleType": recs["precision_at_5_same_articleType"].value}
            for name in MODELS:
                meta = run.asset_materializations_for_node(name)[0].metadata
                summary, settings = meta["summary"].value, run.output_for_node(name).settings
                entry[name] = {**{k: (round(v, 4) if isinstance(v, float) else v) for k, v in summary.items()},
                               "image_size": settings["image_size"], "recipe": settings["recipe"],
                               "registered_version": meta["registered_version"].value, "champion": meta["champion"].value,
                               "minutes": round((steps[name].end_time - steps[name].start_time) / 60, 1)}
            result["levels"][level] = entry
            print(level, json.dumps(entry), flush=True)
            out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


def transfer_variant(a) -> int:
    out = HERE / "results" / "catalogue.json"
    result = json.loads(out.read_text())
    size, epochs = (int(v) for v in a.transfer.split(","))
    name = "product_transfer_classifier"
    selection = [dg.AssetKey(k) for k in ("product_table", "products_without_images", "product_classes", name)]
    with tempfile.TemporaryDirectory() as tmp:
        defs = build_definitions(tmp, catalogue_root=a.catalogue)
        for level in a.levels.split(","):
            config = {"ops": {name: {"config": {"level": level, "image_size": size, "epochs": epochs}}}}
            with dg.DagsterInstance.ephemeral() as instance:
                run = defs.resolve_job_def("catalogue_job").execute_in_process(
                    instance=instance, run_config=config, asset_selection=selection)
                step = next(s for s in instance.get_run_step_stats(run.run_id) if s.step_key == name)
            summary = run.asset_materializations_for_node(name)[0].metadata["summary"].value
            entry = {**{k: (round(v, 4) if isinstance(v, float) else v) for k, v in summary.items()},
                     "image_size": size, "epochs": epochs, "minutes": round((step.end_time - step.start_time) / 60, 1),
                     "machine": machine_info()}
            result.setdefault("transfer_variants", {})[f"{level}, {size} px, {epochs} epochs"] = entry
            print(level, json.dumps(entry), flush=True)
            out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
