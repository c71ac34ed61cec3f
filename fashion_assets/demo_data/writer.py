"""Write a generated dataset in the SPEC §1 layout, with its ground truth, atomically.

The dataset is written into a temporary sibling folder and renamed into place at the end, so an
interrupted run never leaves a half-written data root behind.
"""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import orjson
import pandas as pd

from ..core.tables.vocabulary import ERA_YEARS
from .faults import write_faults
from .plan import plan_images
from .render import encode_jpeg, render_photo
from .survey import plan_labels, survey_answers
from .truth import ground_truth
from .wardrobe import Dresser, load_wardrobe

SPLIT_FOLDERS = {"Train": ("training_image", "training_label"), "Validation": ("validation_image", "validation_label")}
TRUTH_FILE = "GENERATED.json"
USER_FIELDS = ("R_id", "r_gender", "age", "mar", "job", "income", "r_style1", "r_style2", "r_style3", "r_style4", "r_style5")
SURVEY_FIELDS = ("Q1", "Q2", "Q3", "Q411", "Q412", "Q413", "Q414", *(f"Q42{k:02d}" for k in range(1, 17)), "Q5")


@dataclass(frozen=True)
class GeneratorConfig:
    scale: float = 0.1
    seed: int = 0
    width: int = 240
    height: int = 320
    jpeg_quality: int = 90
    faults: bool = False
    masks: bool = False
    workers: int | None = None
    photos: str | None = None  # a product catalogue folder: figures wear its photos (photo mode)


def _render_and_write(job) -> int:
    look, sex, width, height, quality, destinations, mask_destinations = job
    photo, mask = render_photo(look, sex, width, height)
    data = encode_jpeg(photo, quality)
    for dest in destinations:
        Path(dest).write_bytes(data)
    for dest in mask_destinations:
        mask.save(dest, format="PNG")
    return len(destinations)


def _write_labels(chunk: pd.DataFrame) -> int:
    for row in chunk.itertuples(index=False):
        survey = {q: int(getattr(row, q)) for q in SURVEY_FIELDS}
        if survey["Q3"] == 0:  # "Q3 may be missing" in the real files: leave the key out
            del survey["Q3"]
        doc = {
            "E_id": int(row.E_id), "imgName": row.jpg_name,
            "item": {"imgName": row.jpg_name, "era": ERA_YEARS[row.jpg_name.split("_")[2]],
                     "style": row.jpg_name.split("_")[3], "gender": row.jpg_name[-5], "survey": survey},
            "user": {f: int(getattr(row, f)) for f in USER_FIELDS},
        }
        with open(row.path, "wb") as fh:
            fh.write(orjson.dumps(doc))
    return len(chunk)


def plan_dataset(config: GeneratorConfig, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every image file and label file of the dataset, with all their contents, before writing."""
    dresser = Dresser(load_wardrobe(config.photos)) if config.photos else None
    images = plan_images(config.scale, rng, dresser)
    respondents, labels = plan_labels(images, config.scale, rng)
    answers = survey_answers(labels.Q5.to_numpy(), rng)
    for q, values in answers.items():
        labels[q] = values
    # Copies of an answer carry the same answers as their source.
    copied = labels.kind.isin(["repeat", "exact_duplicate"])
    src = labels.loc[copied, "source"].astype(int).to_numpy()
    for q in SURVEY_FIELDS:
        labels.loc[copied, q] = labels.loc[src, q].to_numpy()
    labels = labels.join(respondents.set_index("R_id")[list(USER_FIELDS[1:])], on="R_id")
    return images, labels


def generate(out: str | Path, config: GeneratorConfig = GeneratorConfig(), overwrite: bool = False,
             log: Callable[[str], None] = print) -> dict:
    """Generate a dataset under ``out`` (the ``raw`` folder) and return its ground truth."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; pass overwrite=True (--overwrite) to replace it")
    t0 = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    images, labels = plan_dataset(config, rng)
    log(f"planned {len(images)} image files and {len(labels)} label files in {time.perf_counter() - t0:.1f}s")

    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    for img_dir, lab_dir in SPLIT_FOLDERS.values():
        (tmp / img_dir).mkdir(parents=True)
        (tmp / lab_dir).mkdir(parents=True)
        if config.masks:
            (tmp / "masks" / img_dir).mkdir(parents=True)
    try:
        workers = config.workers or os.cpu_count() or 1
        images["path"] = [str(tmp / SPLIT_FOLDERS[s][0] / f) for s, f in zip(images.split, images.file_name)]
        jobs = []
        look_cols = [c for c in images.columns if c not in ("split", "path")]
        for _, group in images.groupby("picture", sort=True):
            first = group.iloc[0]
            masks = [str(tmp / "masks" / SPLIT_FOLDERS[s][0] / (f[:-4] + ".png"))
                     for s, f in zip(group.split, group.file_name)] if config.masks else []
            jobs.append((first[look_cols].to_dict(), first.sex, config.width, config.height,
                         config.jpeg_quality, list(group.path), masks))
        labels["path"] = [str(tmp / SPLIT_FOLDERS[s][1] / f) for s, f in zip(labels.split, labels.file_name)]
        chunks = [labels.iloc[i:i + 5000] for i in range(0, len(labels), 5000)]
        with ProcessPoolExecutor(workers) as pool:
            done = 0
            for n in pool.map(_render_and_write, jobs, chunksize=16):
                done += n
                if done % 1000 < n:
                    log(f"images: {done}/{len(images)} written")
            log(f"images: {len(images)} files from {len(jobs)} pictures ({time.perf_counter() - t0:.1f}s)")
            done = 0
            for n in pool.map(_write_labels, chunks):
                done += n
                if done % 50_000 < n:
                    log(f"labels: {done}/{len(labels)} written")
        log(f"labels: {len(labels)} files ({time.perf_counter() - t0:.1f}s)")
        faults = write_faults(tmp, images, rng) if config.faults else []
        truth = ground_truth(images, labels, faults, config)
        (tmp / TRUTH_FILE).write_bytes(orjson.dumps(truth, option=orjson.OPT_INDENT_2))
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"generated {out} in {time.perf_counter() - t0:.1f}s")
    return truth
