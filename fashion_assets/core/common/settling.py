"""When has a watched folder settled? When its listing stopped changing between two looks.

A sensor that watches folders (the raw survey and image folders, the new photos) must not act on
a file still being copied, and must not trust file times to tell: a share with clock skew or a
camera with a wrong date writes mtimes in the future, and ``cp -p`` writes old ones. So a change
is acted on when two listings taken one tick apart are the same — whatever the mtimes say.

Listing 250k survey files costs 1–2 s, so between changes a tick only stats the folders
themselves (a file added, removed or renamed changes its folder's mtime); the full listing is
taken when a folder changed, while a change is settling, and at least every ``relist_seconds``
(an edit in place changes no folder). A folder that never stops changing is acted on after
``max_wait_seconds`` all the same (a file half-written then is parsed again once it changes).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from .fingerprint import Listing, fingerprint

RELIST_SECONDS = 30.0
MAX_WAIT_SECONDS = 120.0


@dataclass
class Watch:
    """What a sensor remembers of one watched source between ticks (its cursor entry)."""

    recorded: str | None = None  # the digest last acted on
    pending: str | None = None  # a newer digest seen once, waiting for a second look
    pending_since: int | None = None
    folders: str = ""  # the folders' own stat signature at the last full listing
    listed_at: int = 0

    @classmethod
    def from_cursor(cls, value) -> "Watch":
        if isinstance(value, str):  # the cursor of older code: the digest alone
            return cls(recorded=value)
        return cls(**value) if isinstance(value, dict) else cls()

    def to_cursor(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Look:
    """One tick's look at a source: ``changed`` (act on ``listing``), or why not."""

    changed: bool
    listing: Listing | None
    why: str  # "unchanged", "settling: …", "settled", "still changing after …"


def folders_signature(folders: list[Path]) -> str:
    """The folders' own (inode, mtime, size) — changed by an entry added, removed or renamed."""
    parts = []
    for folder in folders:
        try:
            st = os.stat(folder)
            parts.append(f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}")
        except OSError:
            parts.append("missing")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def look(watch: Watch, folders: list[Path], now: float, relist_seconds: float | None = None,
         max_wait_seconds: float | None = None) -> Look:
    """Look at ``folders`` once, updating ``watch`` in place. ``now`` (the clock) only paces the
    periodic relisting and the wait limit; it never judges a file's mtime. The limits default to
    RELIST_SECONDS and MAX_WAIT_SECONDS."""
    relist_seconds = RELIST_SECONDS if relist_seconds is None else relist_seconds
    max_wait_seconds = MAX_WAIT_SECONDS if max_wait_seconds is None else max_wait_seconds
    signature = folders_signature(folders)
    if (watch.pending is None and watch.recorded is not None and signature == watch.folders
            and now - watch.listed_at < relist_seconds):
        return Look(False, None, "unchanged")
    listing = fingerprint(folders)
    watch.folders, watch.listed_at = signature, int(now)  # whole seconds: a cursor of constant size  # the signature from before the listing: a later change is seen
    if listing.digest == watch.recorded:
        watch.pending = watch.pending_since = None
        return Look(False, listing, "unchanged")
    if listing.digest == watch.pending:
        return _act(watch, listing, "settled: the same listing two ticks in a row")
    if watch.pending is not None and watch.pending_since is not None and now - watch.pending_since >= max_wait_seconds:
        return _act(watch, listing, f"still changing after {max_wait_seconds:.0f} s: acted on as it is now")
    if watch.pending is None:
        watch.pending_since = int(now)
    watch.pending = listing.digest
    return Look(False, listing, f"{listing.entries} entries, changed since the last look: settling (looked at again "
                                "on the next tick)")


def _act(watch: Watch, listing: Listing, why: str) -> Look:
    watch.recorded, watch.pending, watch.pending_since = listing.digest, None, None
    return Look(True, listing, why)
