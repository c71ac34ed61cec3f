"""Crop segmented photos to the figure, pad to a square with white, resize (the seed's 224×224)."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import pandas as pd

from .batch import MANIFEST, collect_results, previous_rows, remove_stale_outputs, run_parallel, save_manifest
from .imaging import ImageProblem, crop_to_figure, decode_rgb, write_jpeg_atomic

def crop_file(source: Path, output: Path, size: int) -> dict:
    """Crop one file; the decode is reduced (JPEG draft) to no less than twice the output size."""
    t0 = time.perf_counter()
    rgb, original = decode_rgb(source, min_side=2 * size)
    crop = crop_to_figure(rgb, size)
    write_jpeg_atomic(crop.image, output)
    sx, sy = original[0] / crop.decoded_size[0], original[1] / crop.decoded_size[1]
    x, y, w, h = crop.bbox
    return {"bbox_x": round(x * sx), "bbox_y": round(y * sy), "bbox_w": round(w * sx), "bbox_h": round(h * sy),
            "source_width": original[0], "source_height": original[1], "size": size,
            "seconds": round(time.perf_counter() - t0, 4)}


def _init_worker() -> None:
    cv2.setNumThreads(1)  # one thread per worker process; the pool provides the parallelism


def _crop_job(job: tuple) -> dict:
    source, output, size = job
    try:
        return {"source": source, "output": output, **crop_file(Path(source), Path(output), size)}
    except ImageProblem as exc:
        return {"source": source, "problem": str(exc)}


def crop_images(items: pd.DataFrame, out_dir: Path, size: int = 224, workers: int = 1,
                log=print, manifest_path: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Crop every item (columns: split, folder, file_name, source, source_sha1) into out_dir/<folder>/.

    Only inputs whose content hash or the size changed are processed again. ``manifest_path``:
    where this batch's manifest lives (a shard keeps its own and removes only its own outputs).
    """
    manifest_path = manifest_path or out_dir / MANIFEST
    old = previous_rows(manifest_path)
    rows, jobs = {}, []
    for it in items.itertuples(index=False):
        output = str(out_dir / it.folder / it.file_name)
        prev = old.get(it.source)
        base = {"split": it.split, "file_name": it.file_name, "source_sha1": it.source_sha1}
        if prev and prev["source_sha1"] == it.source_sha1 and prev["size"] == size and Path(output).exists():
            rows[it.source] = prev
        else:
            rows[it.source] = base
            jobs.append((it.source, output, size))
    log(f"cropping {len(jobs)} of {len(items)} images to {size}x{size} ({len(items) - len(jobs)} unchanged)")
    quarantine: list[dict] = []
    collect_results(run_parallel(_crop_job, jobs, workers, _init_worker, log=log, what="cropped"), rows, quarantine)
    manifest = pd.DataFrame(list(rows.values()))
    # Outputs whose input is gone are stale derived files.
    remove_stale_outputs(out_dir, set(items.folder), set(manifest.output) if len(manifest) else set(), manifest_path, old)
    save_manifest(manifest, manifest_path)
    return manifest, pd.DataFrame(quarantine, columns=["split", "file_name", "reason"])
