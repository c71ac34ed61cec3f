"""New photos: arrival batches in ``<data root>/incoming/``, and what is predicted for each photo.

A batch is a sub-folder of ``incoming/``. Photos dropped loose into ``incoming/`` are filed into
a new batch folder (moved within the folder, so nothing is copied or lost); a folder dropped in
whole is a batch as it is. A batch's identity is its folder name; its content is its listing.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
from scipy.special import softmax

from ..images.batch import sha1_of
from ..preferences.features import best_k
from ..tables.filenames import shown_name
from ..common.fingerprint import fingerprint

BATCH_PREFIX = "batch-"
# Characters a Dagster partition key may not hold (and the separators of a partition range).
UNUSABLE_IN_KEYS = ("...", ",", "[", "]", "\a", "\b", "\f", "\n", "\r", "\t", "\v", "\0")


@dataclass(frozen=True)
class Batch:
    name: str  # the folder's name: the partition key
    digest: str  # fingerprint of its listing: a new digest means the batch changed
    files: int


def usable_batch_name(name: str) -> str | None:
    """Why a folder name cannot be a batch (a partition key), or None when it can."""
    bad = [s for s in UNUSABLE_IN_KEYS if s in name]
    if name.startswith("."):
        return "hidden folder"
    if shown_name(name) != name:
        return "the name is not valid UTF-8"
    return f"the name contains {bad!r}, which a partition key may not" if bad else None


def loose_photos(incoming: Path) -> dict[str, tuple[int, int]]:
    """The files dropped loose into ``incoming`` (not hidden, not in a batch folder), each with its
    (size, mtime in ns): what tells a sensor, at its next tick, whether the file is still being
    written."""
    incoming = Path(incoming)
    if not incoming.is_dir():
        return {}
    found = {}
    for e in os.scandir(incoming):
        if e.is_file(follow_symlinks=False) and not e.name.startswith("."):
            st = e.stat(follow_symlinks=False)
            found[e.name] = (st.st_size, st.st_mtime_ns)
    return found


def file_loose_photos(incoming: Path, names: Iterable[str] | None = None, now: float | None = None) -> tuple[str | None, int]:
    """Move loose files of ``incoming`` (``names``; default: every loose photo) into a new batch
    folder named after the time (``batch-YYYYmmdd-HHMMSS``, made unique). Returns (the batch,
    files moved); (None, 0) when there was nothing to file. Hidden files stay where they are."""
    incoming = Path(incoming)
    if not incoming.is_dir():
        return None, 0
    now = time.time() if now is None else now
    loose = loose_photos(incoming)
    loose = sorted(loose if names is None else set(names) & set(loose))
    if not loose:
        return None, 0
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    name, k = f"{BATCH_PREFIX}{stamp}", 1
    while (incoming / name).exists():
        k += 1
        name = f"{BATCH_PREFIX}{stamp}-{k}"
    folder = incoming / name
    folder.mkdir()
    for entry in loose:
        os.replace(incoming / entry, folder / entry)  # a rename: atomic, in the same file system
    return name, len(loose)


def batches(incoming: Path) -> tuple[list[Batch], list[str]]:
    """(every usable batch folder with its fingerprint, folders that cannot be batches with why)."""
    incoming = Path(incoming)
    found, unusable = [], []
    if not incoming.is_dir():
        return found, unusable
    for entry in sorted(os.scandir(incoming), key=lambda e: e.name):
        if not entry.is_dir(follow_symlinks=False):
            continue
        problem = usable_batch_name(entry.name)
        if problem:
            if not entry.name.startswith("."):
                unusable.append(f"{shown_name(entry.name)}: {problem}")
            continue
        listing = fingerprint([Path(entry.path)])
        found.append(Batch(entry.name, listing.digest, listing.entries))
    return found, unusable


def list_batch(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per photo of a batch folder: file_name, source, sha1; files that could not be read,
    with the reason). Whether a file is a decodable image is the segmenter's to say."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"batch folder {folder} does not exist (moved or deleted after it was registered?)")
    rows, unreadable = [], []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        if shown_name(entry.name) != entry.name:
            unreadable.append({"file_name": shown_name(entry.name), "reason": "the file name is not valid UTF-8 (its "
                                                                              "bytes are shown escaped): rename it"})
            continue
        if not entry.is_file():
            unreadable.append({"file_name": entry.name, "reason": "not a file (a folder inside a batch is not read)"})
            continue
        try:
            rows.append({"file_name": entry.name, "source": entry.path, "sha1": sha1_of(Path(entry.path))})
        except OSError as exc:
            unreadable.append({"file_name": entry.name, "reason": f"cannot be read: {exc.strerror or exc}"})
    return (pd.DataFrame(rows, columns=["file_name", "source", "sha1"]),
            pd.DataFrame(unreadable, columns=["file_name", "reason"]))


def top_classes(logits: np.ndarray, class_names: list[str], k: int = 3) -> pd.DataFrame:
    """Columns class_1, probability_1 … class_k, probability_k (most probable first)."""
    order, p = best_k(softmax(np.asarray(logits, dtype=np.float64), axis=1), min(k, np.shape(logits)[1]))
    out = {}
    for j in range(order.shape[1]):
        out[f"class_{j + 1}"] = np.asarray(class_names, dtype=object)[order[:, j]]
        out[f"probability_{j + 1}"] = p[:, j]
    return pd.DataFrame(out)


def class_posteriors(logits: np.ndarray, class_names: list[str]) -> np.ndarray:
    """Softmax of a classifier's logits as columns of CLASS_LABELS (a class it lacks is 0)."""
    from ..tables.vocabulary import CLASS_LABELS

    out = np.zeros((len(logits), len(CLASS_LABELS)))
    out[:, [CLASS_LABELS.index(c) for c in class_names]] = softmax(np.asarray(logits, dtype=np.float64), axis=1)
    return out
