"""The one way a derived file is written: into a temp file beside it, then renamed over it.

Readers never see half a file, and a crash leaves at most a temp file, which the owner of the
folder removes on its next run (the I/O managers prune every file no row names). Temp names are short and fixed-length, so a
target whose name is near the file system's 255-byte limit still gets a valid temp name.
"""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

TEMP_PREFIX = ".tmp-"


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temp path in ``path``'s folder; on success it replaces ``path`` in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f"{TEMP_PREFIX}{secrets.token_hex(8)}{path.suffix[:16]}"
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_npz(path: Path, **arrays) -> Path:
    """Numpy arrays in one ``.npz`` file (read back with ``numpy.load(path, allow_pickle=False)``)."""
    import numpy as np

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    return Path(path)


def write_csv(path: Path, table) -> Path:
    """A DataFrame as CSV without its index (read back with ``pandas.read_csv``)."""
    return write_bytes(path, table.to_csv(index=False).encode())
