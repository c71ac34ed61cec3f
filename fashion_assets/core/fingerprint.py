"""A folder's fingerprint: a digest of its listing (every entry's name, kind, size and mtime).

It changes whenever an entry is added, removed, replaced or edited — whatever its mtime (files
copied with ``cp -p``, ``rsync -a`` or ``tar`` keep old mtimes) — and stays 64 hex characters
however many files there are. Used as the data version of the raw folders.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Listing:
    digest: str
    entries: int
    unsettled: int  # entries modified within the settle time (perhaps still being written)


def fingerprint(folders: list[Path], now_ns: int | None = None, settle_seconds: float = 0.0) -> Listing:
    """Digest of the listings of ``folders`` (a missing folder counts as empty, and says so)."""
    h = hashlib.sha256()
    entries = unsettled = 0
    settled_before = None if now_ns is None else now_ns - int(settle_seconds * 1e9)
    for folder in folders:
        h.update(f"\0{Path(folder).name}\0".encode())
        if not Path(folder).is_dir():
            h.update(b"<missing>")
            continue
        with os.scandir(folder) as it:
            listing = []
            for e in it:
                st = e.stat(follow_symlinks=False)
                listing.append((e.name, stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns))
                if settled_before is not None and st.st_mtime_ns > settled_before:
                    unsettled += 1
        listing.sort()
        entries += len(listing)
        for name, kind, size, mtime in listing:
            h.update(f"{name}\0{kind}\0{size}\0{mtime}\n".encode("utf-8", "surrogateescape"))
    return Listing(h.hexdigest(), entries, unsettled)
