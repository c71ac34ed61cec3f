"""Benchmark: building the full-scale label table (~250k survey JSON files).

Compares, on the same files in one run:
  seed_style      one process, ``json.load`` per file, a dict per row, then a DataFrame
  ours_1_process  fashion_assets.core.tables.scanning.label_changes (a full parse) with one process (orjson, columnar rows)
  ours_N_process  the same with one process per core
  label_files_asset  the whole Dagster asset (parse + quarantine + write to DuckDB) via materialize()
  label_files_asset_incremental  the asset again after 100 new survey files arrived: only they are
                     parsed, the stored rows are reused (label_files' default)
  label_files_asset_full_reparse the same files with full_reparse=True
Also records how long the generator took to write the full-scale dataset when it had to.

Usage: python benchmarks/label_parsing.py [--root DATA_ROOT] [--scale 1.0]
Writes benchmarks/results/label_parsing.json. Figures are warm-page-cache timings.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import dagster as dg
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

from fashion_assets.assets.tables import label_files  # noqa: E402
from fashion_assets.demo_data.writer import GeneratorConfig, generate  # noqa: E402
from fashion_assets.core.tables.scanning import LABEL_FOLDERS, label_changes, list_files  # noqa: E402
from fashion_assets.resources import DataRootResource  # noqa: E402
from fashion_assets.io_managers import WarehouseIOManager, WarehouseResource  # noqa: E402

HERE = Path(__file__).resolve().parent


def seed_style(raw: Path) -> pd.DataFrame:
    """What the seed's notebook did: split the name on '_', json.load each file, one dict per row."""
    rows = []
    for split, folder in LABEL_FOLDERS.items():
        for name in list_files(raw / folder):
            parts = name[:-5].split("_")
            with open(raw / folder / name) as fh:
                data = json.load(fh)
            row = {"file_name": name, "W/T": parts[0], "image_id": parts[1], "period": parts[2], "style": parts[3],
                   "Sex": parts[4], "survey_id": parts[5], "T/V": split, "E_id": data["E_id"]}
            row.update(data["user"])
            row.update(data["item"]["survey"])
            rows.append(row)
    return pd.DataFrame(rows)


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--root", default=str(HERE / "work" / "full"), help="data root (raw/ is generated if absent)")
    p.add_argument("--scale", type=float, default=1.0)
    a = p.parse_args()
    root = Path(a.root)
    result = {"machine": machine_info(), "scale": a.scale, "page_cache": "warm (files read once before timing)"}
    if not (root / "raw").exists():
        truth, secs = timed(generate, root / "raw", GeneratorConfig(scale=a.scale, seed=0))
        result["generator"] = {"seconds": round(secs, 1), "image_files": truth["image_files"],
                               "label_files": truth["label_files"], "image_size": "240x320"}
    raw = root / "raw"
    n_files = sum(len(list_files(raw / f)) for f in LABEL_FOLDERS.values())
    label_changes(raw)  # warm the page cache so every variant reads from memory

    runs = {}
    seed_df, secs = timed(seed_style, raw)
    runs["seed_style"] = secs
    ours1, secs = timed(lambda: label_changes(raw, workers=1).added)
    runs["ours_1_process"] = secs
    oursN, secs = timed(lambda: label_changes(raw, workers=os.cpu_count()).added)
    runs[f"ours_{os.cpu_count()}_process"] = secs
    assert len(seed_df) == len(ours1) == len(oursN) == n_files

    db = root / "bench_warehouse.duckdb"
    db.unlink(missing_ok=True)
    resources = {"data_root": DataRootResource(root=str(root)), "warehouse": WarehouseResource(database=str(db)),
                 "io_manager": WarehouseIOManager(database=str(db), schema="fashion")}

    def asset(**config):
        return dg.materialize([label_files], resources=resources, instance=dg.DagsterInstance.ephemeral(),
                              run_config={"ops": {"label_files": {"config": config}}})

    _, secs = timed(asset)
    runs["label_files_asset"] = secs
    folder = raw / "validation_label"
    template = (folder / list_files(folder)[0]).read_bytes()
    new = [folder / f"W_{k:05d}_50_ivy_M_{900000 + k}.json" for k in range(100)]
    try:
        for path in new:
            path.write_bytes(template)
        _, secs = timed(asset)
        runs["label_files_asset_incremental"] = secs
        _, secs = timed(asset, full_reparse=True)
        runs["label_files_asset_full_reparse"] = secs
    finally:
        for path in new:
            path.unlink(missing_ok=True)
    result["incremental"] = {"new_files": len(new), "speedup_vs_full_reparse": round(
        runs["label_files_asset_full_reparse"] / runs["label_files_asset_incremental"], 2)}

    result["label_files"] = n_files
    result["seconds"] = {k: round(v, 2) for k, v in runs.items()}
    whole = [k for k in runs if "incremental" not in k]
    result["files_per_second"] = {k: round(n_files / runs[k]) for k in whole}
    result["speedup_vs_seed_style"] = {k: round(runs["seed_style"] / runs[k], 2) for k in whole}
    out = HERE / "results" / "label_parsing.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
