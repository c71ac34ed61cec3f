"""A folder's fingerprint: a digest of its listing (every entry's name, kind, size and mtime).

It changes whenever an entry is added, removed, replaced or edited — whatever its mtime (files
copied with ``cp -p``, ``rsync -a`` or ``tar`` keep old mtimes) — and stays 64 hex characters
however many files there are. Used as the data version of the raw folders.

Listing 250k survey files takes 1–2 s on the 2-core machine (one ``lstat`` each), so the listing
a fingerprint was computed from can be kept (``save_listing``) and handed to the step that
parses the folder (``load_listing``) instead of listing it a second time.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .atomic import atomic_path


@dataclass(frozen=True)
class Entries:
    """One folder's entries in directory order, as ``lstat`` saw them (a link is a link)."""
    names: list[str]
    kinds: np.ndarray  # stat.S_IFMT of st_mode
    sizes: np.ndarray
    mtimes: np.ndarray  # st_mtime_ns


@dataclass(frozen=True)
class Listing:
    digest: str
    entries: int
    folders: dict[str, Entries] = field(default_factory=dict)  # folder name → its entries (missing: absent)


def read_folder(folder: Path) -> Entries:
    """Every entry of ``folder`` with its lstat kind, size and mtime (one directory scan)."""
    names, kinds, sizes, mtimes = [], [], [], []
    with os.scandir(folder) as it:
        for e in it:
            st = e.stat(follow_symlinks=False)
            names.append(e.name)
            kinds.append(stat.S_IFMT(st.st_mode))
            sizes.append(st.st_size)
            mtimes.append(st.st_mtime_ns)
    return Entries(names, np.array(kinds, dtype=np.int64), np.array(sizes, dtype=np.int64),
                   np.array(mtimes, dtype=np.int64))


def fingerprint(folders: list[Path]) -> Listing:
    """Digest of the listings of ``folders`` (a missing folder counts as empty, and says so);
    the listing itself is kept in ``Listing.folders``. Whether a folder has settled is
    ``core.settling``'s to say (two listings a tick apart), never the mtimes against the clock."""
    h = hashlib.sha256()
    entries = 0
    kept = {}
    for folder in folders:
        h.update(f"\0{Path(folder).name}\0".encode())
        if not Path(folder).is_dir():
            h.update(b"<missing>")
            continue
        found = kept[Path(folder).name] = read_folder(Path(folder))
        order = sorted(range(len(found.names)), key=found.names.__getitem__)  # names are unique in a folder
        entries += len(order)
        lines = map("{}\0{}\0{}\0{}\n".format, [found.names[k] for k in order], found.kinds[order].tolist(),
                    found.sizes[order].tolist(), found.mtimes[order].tolist())
        h.update("".join(lines).encode("utf-8", "surrogateescape"))
    return Listing(h.hexdigest(), entries, kept)


def save_listing(listing: Listing, path: Path) -> None:
    """Write the listing (atomically; names joined by NUL, which no file name contains)."""
    arrays = {"digest": np.array(listing.digest), "entries": np.array(listing.entries)}
    for k, (name, e) in enumerate(listing.folders.items()):
        blob = "\0".join(e.names).encode("utf-8", "surrogateescape")
        arrays.update({f"folder{k}": np.array(name), f"names{k}": np.frombuffer(blob, dtype=np.uint8),
                       f"kinds{k}": e.kinds, f"sizes{k}": e.sizes, f"mtimes{k}": e.mtimes})
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def load_listing(path: Path) -> Listing:
    with np.load(path, allow_pickle=False) as data:
        folders = {}
        k = 0
        while f"folder{k}" in data:
            blob = data[f"names{k}"].tobytes().decode("utf-8", "surrogateescape")
            folders[str(data[f"folder{k}"])] = Entries(blob.split("\0") if blob else [], data[f"kinds{k}"],
                                                       data[f"sizes{k}"], data[f"mtimes{k}"])
            k += 1
        return Listing(str(data["digest"]), int(data["entries"]), folders)
