"""Run a function over many files in worker processes, with progress, and keep a manifest.

A manifest is a JSON list of rows (one per output file) kept beside the outputs; re-runs compare
each input's content hash and settings with it to process only what is new or changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd


def sha1_of(path: Path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def load_manifest(path: Path) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame()
    return pd.DataFrame(json.loads(path.read_text()))


def previous_rows(path: Path) -> dict[str, dict]:
    """The rows of an earlier run's manifest, keyed by source path."""
    previous = load_manifest(path)
    return {r["source"]: r for r in previous.to_dict("records")} if len(previous) else {}


def collect_results(results: Iterable[dict], rows: dict[str, dict], quarantine: list[dict]) -> None:
    """Fold worker results into the manifest rows (keyed by source); a result with a ``problem``
    moves its row to the quarantine with that reason."""
    for res in results:
        base = rows[res["source"]]
        if "problem" in res:
            quarantine.append({"split": base["split"], "file_name": base["file_name"], "reason": res["problem"]})
            rows.pop(res["source"])
        else:
            rows[res["source"]] = {**base, **res}


def save_manifest(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(df.to_json(orient="records", indent=0))
    os.replace(tmp, path)


MANIFEST = "manifest.json"


def remove_stale_outputs(out_dir: Path, folders: Iterable[str], live: set[str], manifest_path: Path,
                         previous: dict[str, dict]) -> None:
    """Delete derived .jpg files under out_dir/<folder> that no current input produced.

    A manifest kept in out_dir owns its folders; one kept elsewhere (a shard's — the folders are
    shared with the other shards) owns only the outputs its ``previous`` rows recorded."""
    owned = (None if manifest_path == out_dir / MANIFEST
             else {r["output"] for r in previous.values() if isinstance(r.get("output"), str)})
    for folder in folders:
        if (out_dir / folder).exists():
            for f in (out_dir / folder).glob("*.jpg"):
                if str(f) not in live and (owned is None or str(f) in owned):
                    f.unlink()


def shard_of(file_name: str, shards: int) -> int:
    """A file's shard: stable across runs, machines and content changes (the name, not the bytes)."""
    return zlib.crc32(file_name.encode("utf-8")) % shards


def run_parallel(fn: Callable, jobs: list, workers: int, initializer: Callable | None = None,
                 initargs: tuple = (), log: Callable[[str], None] = print, what: str = "items") -> Iterable:
    """Yield fn(job) for every job, in order, from ``workers`` processes (in-process when 1).

    Logs progress with counts, rate and ETA about every 5 seconds.
    """
    start, last = time.perf_counter(), 0.0
    if workers <= 1 or len(jobs) <= 1:
        if initializer:
            initializer(*initargs)
        results = map(fn, jobs)
        pool = None
    else:
        pool = ProcessPoolExecutor(workers, initializer=initializer, initargs=initargs)
        results = pool.map(fn, jobs, chunksize=max(1, min(16, len(jobs) // (workers * 8) or 1)))
    try:
        for i, result in enumerate(results, 1):
            now = time.perf_counter() - start
            if now - last > 5 or i == len(jobs):
                last = now
                rate = i / max(now, 1e-9)
                log(f"{what}: {i}/{len(jobs)} ({rate:.1f}/s, ETA {(len(jobs) - i) / max(rate, 1e-9):.0f}s)")
            yield result
    finally:
        if pool:
            pool.shutdown()
