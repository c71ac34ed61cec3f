"""Artifacts: files an asset produces (a checkpoint, a feature matrix), described by a handle.

A handle says where the files are and everything a consumer needs to use them (image size,
class names, normalisation …), plus the version of the inputs they were built from. Consumers
read settings from the handle, never from their own config, so a setting lives in one place.
The Dagster side (an I/O manager) stores handles; this module knows nothing about Dagster.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from .atomic import TEMP_PREFIX


@dataclass(frozen=True)
class Artifact:
    path: str  # the artifact's main file
    kind: str  # "classifier", "feature_matrix" …
    settings: dict = field(default_factory=dict)  # what describes it, read by consumers
    inputs_version: str = ""  # content version of the inputs (and config) it was built from
    version: str = ""  # the version folder it lives in (one per materialization)

    @property
    def folder(self) -> Path:
        return Path(self.path).parent

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "Artifact":
        return cls(**json.loads(text))


def content_version(*parts) -> str:
    """A short stable hash of JSON-able parts and DataFrames (column order and row order count)."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, pd.DataFrame):
            h.update(",".join(map(str, part.columns)).encode())
            try:
                rows = pd.util.hash_pandas_object(part, index=False)
            except TypeError:  # list-valued columns: hash their text form
                rows = pd.util.hash_pandas_object(part.apply(lambda c: c.map(repr) if c.dtype == object else c), index=False)
            h.update(rows.to_numpy().tobytes())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()[:20]


def unordered_version(*frames: pd.DataFrame) -> str:
    """A short hash of DataFrames' rows that ignores row order (a table stored by inserts and
    deletes has no defined order): the sum of per-row hashes, modulo 2**64, per frame."""
    h = hashlib.sha256()
    for frame in frames:
        h.update(",".join(map(str, frame.columns)).encode())
        total = int(pd.util.hash_pandas_object(frame, index=False).to_numpy().sum(dtype=np.uint64)) if len(frame) else 0
        h.update(f"{len(frame)}:{total}".encode())
    return h.hexdigest()[:20]


def prune_files(folder: Path, keep: Iterable[str]) -> list[str]:
    """Delete every file in ``folder`` whose path is not in ``keep`` (temp files included);
    returns the names removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    keep = {str(Path(k)) for k in keep}
    removed = []
    for p in folder.iterdir():
        if p.is_file() and str(p) not in keep:
            p.unlink(missing_ok=True)
            removed.append(p.name)
    if not any(folder.iterdir()):
        folder.rmdir()
    return removed


def prune_versions(asset_folder: Path, keep: Iterable[str]) -> list[str]:
    """Delete version folders of one asset except ``keep`` (and the ``work`` folder)."""
    asset_folder = Path(asset_folder)
    if not asset_folder.is_dir():
        return []
    keep = set(keep) | {"work"}
    removed = []
    for p in asset_folder.iterdir():
        if p.is_dir() and p.name not in keep:
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
        elif p.is_file() and p.name.startswith(TEMP_PREFIX):
            p.unlink(missing_ok=True)
    return removed
