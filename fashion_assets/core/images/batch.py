"""Per-image batch work: which inputs need processing, worker processes with progress, results.

A step is incremental: an input whose key (content hash + settings) matches a row of the step's
previous output, and whose output file still exists, keeps that row; everything else is done
again. Output files are named by content (``output_name``), so names stay short and a changed
input never overwrites the file an older row still names.
"""

from __future__ import annotations

import hashlib
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from ..common.progress import Progress

QUARANTINE_COLUMNS = ["partition", "split", "file_name", "sha1", "reason"]


def sha1_of(path: Path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def shard_of(file_name: str, shards: int) -> int:
    """A file's shard: stable across runs, machines and content changes (the name, not the bytes)."""
    return zlib.crc32(file_name.encode("utf-8")) % shards


def settings_hash(settings: str) -> str:
    return hashlib.sha1(settings.encode("utf-8")).hexdigest()[:10]


def output_name(content_sha1: str, settings_key: str) -> str:
    """The output file of one input: its content hash and the settings' hash (fixed length)."""
    return f"{content_sha1[:24]}-{settings_hash(settings_key)}.jpg"


def split_reusable(items: pd.DataFrame, previous: pd.DataFrame, keys: list[str]) -> tuple[list[dict], pd.DataFrame]:
    """(previous rows still valid, items to process). A previous row is valid when it has the same
    split, file name and ``keys`` values as an item and its output file exists. (The split is part
    of an image's identity: a validation image may share a training image's name.)"""
    on = ["split", "file_name", *keys]
    if previous is None or previous.empty or not set(on + ["output"]) <= set(previous.columns):
        return [], items
    prev = previous.drop(columns=[c for c in items.columns if c not in on and c in previous.columns])
    merged = items[on].merge(prev.drop_duplicates(["split", "file_name"], keep="last"), on=on, how="left")
    valid = merged["output"].map(lambda p: isinstance(p, str) and Path(p).exists()).to_numpy(dtype=bool)
    reused = items[valid].reset_index(drop=True).join(merged[valid].drop(columns=on).reset_index(drop=True))
    return reused.to_dict("records"), items[~valid]


def collect(results: Iterable[dict], items: pd.DataFrame, base_columns: list[str]) -> tuple[list[dict], list[dict]]:
    """Worker results (in ``items`` order) as (rows, quarantine rows); a result with a
    ``problem`` becomes a quarantine row with that reason."""
    rows, quarantine = [], []
    for item, res in zip(items[base_columns].to_dict("records"), results):
        if "problem" in res:
            quarantine.append({**{k: item.get(k) for k in QUARANTINE_COLUMNS if k != "reason"}, "reason": res["problem"]})
        else:
            rows.append({**item, **res})
    return rows, quarantine


def run_parallel(fn: Callable, jobs: list, workers: int, initializer: Callable | None = None,
                 initargs: tuple = (), log: Callable[[str], None] = print, what: str = "items") -> Iterable:
    """Yield fn(job) for every job, in order, from ``workers`` processes (in-process when 1)."""
    progress = Progress(len(jobs), what, log)
    if workers <= 1 or len(jobs) <= 1:
        if initializer:
            initializer(*initargs)
        results, pool = map(fn, jobs), None
    else:
        pool = ProcessPoolExecutor(workers, initializer=initializer, initargs=initargs)
        results = pool.map(fn, jobs, chunksize=max(1, min(16, len(jobs) // (workers * 8) or 1)))
    try:
        for i, result in enumerate(results, 1):
            progress.update(i)
            yield result
    finally:
        if pool:
            pool.shutdown()
