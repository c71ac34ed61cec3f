"""The stored feature matrix (one row per distinct image, an index of every file) and cosine neighbours."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class FeatureMatrix:
    features: np.ndarray  # (distinct images, 512)
    sha1: np.ndarray  # content hash of each row's image
    index: pd.DataFrame  # split, file_name, row: every image file and its feature row


def save_feature_matrix(path: Path, features: np.ndarray, sha1, index: pd.DataFrame) -> Path:
    """Write the matrix (row i: the image whose content hash is ``sha1[i]``) and its index (split,
    file_name, row of every image file); ``load_feature_matrix`` reads it back."""
    from ..common.atomic import write_npz

    return write_npz(path, features=features, sha1=np.array(sha1, dtype=str), split=np.array(index.split, dtype=str),
                     file_name=np.array(index.file_name, dtype=str), row=index.row.to_numpy())


def load_feature_matrix(path: str | Path) -> FeatureMatrix:
    data = np.load(path, allow_pickle=False)
    index = pd.DataFrame({"split": data["split"].astype(str), "file_name": data["file_name"].astype(str),
                          "row": data["row"]})
    return FeatureMatrix(data["features"], data["sha1"].astype(str), index)


def unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def best_k(sim: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(column indices, values) of each row's ``k`` largest values, largest first."""
    part = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(sim, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)


def top_k_neighbours(features: np.ndarray, k: int = 10, block: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """(indices, cosine similarities) of each row's k most similar other rows, in blocks so the
    full similarity matrix is never held at once."""
    x = unit_rows(features)
    k = min(k, len(x) - 1)
    idx = np.empty((len(x), k), dtype=np.int64)
    sim = np.empty((len(x), k))
    for s in range(0, len(x), block):
        s_block = x[s:s + block] @ x.T
        np.fill_diagonal(s_block[:, s:s + block], -np.inf)  # not its own neighbour
        idx[s:s + block], sim[s:s + block] = best_k(s_block, k)
    return idx, sim


def nearest(queries: np.ndarray, base: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices into ``base``, cosine similarities) of each query's ``k`` most similar rows, best first."""
    k = min(k, len(base))
    if k == 0 or len(queries) == 0:
        return np.zeros((len(queries), 0), dtype=np.int64), np.zeros((len(queries), 0))
    return best_k(unit_rows(np.asarray(queries, dtype=np.float64)) @ unit_rows(np.asarray(base, dtype=np.float64)).T, k)
