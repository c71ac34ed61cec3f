"""Detect newly arrived files in folders with a small, restart-proof cursor.

The cursor is the newest modification time already handled plus the names that share it, so it
stays small however many files there are, and files never count twice. Files modified within
``settle_seconds`` are left for a later tick: they may still be being written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ArrivalCursor:
    mtime_ns: int = 0
    names_at_mtime: list[str] = field(default_factory=list)

    def dumps(self) -> str:
        return json.dumps({"mtime_ns": self.mtime_ns, "names_at_mtime": sorted(self.names_at_mtime)})

    @classmethod
    def loads(cls, text: str | None) -> "ArrivalCursor":
        if not text:
            return cls()
        data = json.loads(text)
        return cls(int(data["mtime_ns"]), list(data["names_at_mtime"]))


def new_files(folders: list[Path], cursor: ArrivalCursor, now_ns: int, settle_seconds: float = 10.0,
              suffix: str = ".json") -> tuple[list[str], ArrivalCursor]:
    """(new settled file paths, advanced cursor)."""
    settled_before = now_ns - int(settle_seconds * 1e9)
    seen_at_mtime = set(cursor.names_at_mtime)
    found: list[tuple[int, str]] = []
    for folder in folders:
        if not folder.is_dir():
            continue
        with os.scandir(folder) as it:
            for entry in it:
                if not entry.name.endswith(suffix) or entry.name.startswith("."):
                    continue
                m = entry.stat().st_mtime_ns
                if m > settled_before:
                    continue  # too fresh: possibly half-written
                if m > cursor.mtime_ns or (m == cursor.mtime_ns and entry.path not in seen_at_mtime):
                    found.append((m, entry.path))
    if not found:
        return [], cursor
    newest = max(m for m, _ in found)
    names = [p for m, p in found if m == newest]
    if newest == cursor.mtime_ns:
        names = sorted(seen_at_mtime | set(names))
    return sorted(p for _, p in found), ArrivalCursor(newest, names)
