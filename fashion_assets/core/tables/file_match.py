"""Which stored rows still describe the files on disk.

A row parsed from a file keeps its (split, file_name, file_size, file_mtime_ns); matched against a
listing of the folders now, a row whose file is there at the same size and mtime still holds, and
every other row goes. Matched in pandas for rows in memory, or inside DuckDB where they are stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

KEY_COLUMNS = ["split", "file_name", "file_size", "file_mtime_ns"]  # a parsed file's identity and version


def _matches(rows: pd.DataFrame, files: pd.DataFrame) -> np.ndarray:
    """For each of ``rows`` (KEY_COLUMNS, int64 size and mtime): the position in ``files`` (names
    unique per split: a listing) of the same file at the same size and mtime, else -1. One hash
    lookup per row on "split/name" (a 4-column merge costs twice as much)."""
    where = pd.Index(files.split.to_numpy() + "/" + files.file_name.to_numpy()).get_indexer(
        rows.split.to_numpy() + "/" + rows.file_name.to_numpy())
    found = where >= 0
    same = np.zeros(len(rows), dtype=bool)
    same[found] = ((files.file_size.to_numpy()[where[found]] == rows.file_size.to_numpy()[found])
                   & (files.file_mtime_ns.to_numpy()[where[found]] == rows.file_mtime_ns.to_numpy()[found]))
    return np.where(same, where, -1)


def unchanged_rows(previous: pd.DataFrame | None, files: pd.DataFrame) -> np.ndarray:
    """For each previous row, the position in ``files`` (the listing now) of its file if it is
    still there with the same size and mtime, else -1; all -1 when nothing is reusable (no previous
    rows, or rows from before these columns existed)."""
    at = np.full(0 if previous is None else len(previous), -1)
    if previous is None or previous.empty or not set(KEY_COLUMNS) <= set(previous.columns):
        return at
    keys = previous[KEY_COLUMNS].reset_index(drop=True)
    known = (keys.file_size.notna() & keys.file_mtime_ns.notna()).to_numpy()  # entries that are not files have neither
    at[known] = _matches(keys[known].astype({"file_size": "int64", "file_mtime_ns": "int64"}), files)
    return at


@dataclass
class StoredMatch:
    """The stored rows against the files now: which files keep their row, which rows go."""

    unchanged_at: np.ndarray  # positions in the listing of files whose stored row still holds
    removed: pd.DataFrame  # split, file_name of the stored rows that no longer hold
    stored_rows: int


def match_frame(stored: pd.DataFrame | None, files: pd.DataFrame) -> StoredMatch:
    """``stored`` (KEY_COLUMNS at least) matched against the listing ``files``, in pandas."""
    at = unchanged_rows(stored, files)
    keep = at >= 0
    removed = (stored.loc[~keep, ["split", "file_name"]].reset_index(drop=True)
               if stored is not None and {"split", "file_name"} <= set(stored.columns)
               else pd.DataFrame(columns=["split", "file_name"]))
    return StoredMatch(at[keep], removed, 0 if stored is None else len(stored))


def match_stored(connection, table: str, files: pd.DataFrame) -> StoredMatch | None:
    """The rows of DuckDB ``table`` matched against the listing ``files`` where they are stored:
    two hash joins instead of reading 250k keys into pandas (a quarter of the time). None when the
    table does not exist or lacks a KEY_COLUMNS column (stored by older code: parse everything)."""
    schema, name = table.split(".")
    have = {r[0] for r in connection.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
                                             "AND table_name = ?", [schema, name]).fetchall()}
    if not set(KEY_COLUMNS) <= have:
        return None
    keys = ", ".join(KEY_COLUMNS)
    connection.register("_listing", files[KEY_COLUMNS].assign(position=np.arange(len(files))))
    try:
        at = connection.execute(f"SELECT l.position FROM _listing l JOIN {table} t USING ({keys})").fetchnumpy()["position"]
        removed = connection.execute(f"SELECT t.split, t.file_name FROM {table} t ANTI JOIN _listing l USING ({keys})").df()
        rows = connection.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    finally:
        connection.unregister("_listing")
    return StoredMatch(np.sort(np.asarray(at, dtype=np.int64)), removed, int(rows))
