"""Crop segmented photos to the figure, pad to a square with white, resize (the seed's 224×224)."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import pandas as pd

from .batch import QUARANTINE_COLUMNS, collect, output_name, run_parallel, sha1_of, split_reusable
from .imaging import ImageProblem, crop_to_figure, decode_rgb, write_jpeg

OUTPUT_COLUMNS = ["output", "bbox_x", "bbox_y", "bbox_w", "bbox_h", "source_width", "source_height", "seconds",
                  "output_sha1"]


def crop_file(source: Path, output: Path, size: int) -> dict:
    """Crop one file; the decode is reduced (JPEG draft) to no less than twice the output size."""
    t0 = time.perf_counter()
    rgb, original = decode_rgb(source, min_side=2 * size)
    crop = crop_to_figure(rgb, size)
    write_jpeg(crop.image, output)
    sx, sy = original[0] / crop.decoded_size[0], original[1] / crop.decoded_size[1]
    x, y, w, h = crop.bbox
    return {"output": str(output), "bbox_x": round(x * sx), "bbox_y": round(y * sy), "bbox_w": round(w * sx),
            "bbox_h": round(h * sy), "source_width": original[0], "source_height": original[1],
            "seconds": round(time.perf_counter() - t0, 4), "output_sha1": sha1_of(output)}


def _init_worker() -> None:
    cv2.setNumThreads(1)  # one thread per worker process; the pool provides the parallelism


def _crop_job(job: tuple) -> dict:
    source, output, size = job
    try:
        return crop_file(Path(source), Path(output), size)
    except ImageProblem as exc:
        return {"problem": str(exc)}


def crop_images(items: pd.DataFrame, previous: pd.DataFrame, size: int = 224, workers: int = 1,
                log=print) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Crop every item (columns: partition, split, file_name, sha1, source, source_sha1, out_dir).
    Items whose segmented file (``source_sha1``) and size match a row of ``previous`` keep that
    row; only the rest are processed."""
    items = items.assign(size=size)
    reused, todo = split_reusable(items, previous, ["source_sha1", "size"])
    log(f"cropping {len(todo)} of {len(items)} images to {size}x{size} ({len(reused)} unchanged)")
    jobs = [(src, str(Path(d) / output_name(h, f"crop|{size}")), size)
            for src, h, d in zip(todo.source, todo.source_sha1, todo.out_dir)]
    columns = [c for c in items.columns if c != "out_dir"]
    rows, quarantine = collect(run_parallel(_crop_job, jobs, workers, _init_worker, log=log, what="cropped"),
                               todo, columns)
    return (pd.DataFrame(reused + rows, columns=columns + OUTPUT_COLUMNS),
            pd.DataFrame(quarantine, columns=QUARANTINE_COLUMNS))
