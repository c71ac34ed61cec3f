"""Which source files a warm (preloaded) Python process would be stale against.

A process that imported a project's modules keeps running that code after the files change. The
run launcher's fork server compares this version, taken when it imported them, with the files
now; a change starts a new server (the user's edit is in the next run)."""

from __future__ import annotations

import hashlib
import os
import sys
import sysconfig
from pathlib import Path


def _installed_roots() -> list[Path]:
    """Where installed (not editable) packages live: their files change only with an install."""
    return [Path(p).resolve() for p in {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}]


def _fresh_spec(name: str):
    """The spec a fresh process would find for top-level module ``name``: sys.meta_path's finders
    (editable installs add one) without the sys.modules shortcut of importlib.util.find_spec."""
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        spec = find(name, None) if find else None
        if spec is not None:
            return spec
    return None


def watched_locations(modules: list[str]) -> list[Path]:
    """The folders (or files) of the top-level packages of ``modules`` that are not installed
    packages: the project's own code, an editable install or a folder on the path. Found where a
    fresh process would import them from (the path and the import hooks of editable installs,
    not this process's already-imported modules), without importing them."""
    installed, found = _installed_roots(), []
    for top in sorted({m.split(".")[0] for m in modules}):
        try:
            spec = _fresh_spec(top)
        except (ImportError, ValueError):
            continue
        if spec is None:
            continue
        paths = list(spec.submodule_search_locations or []) or ([spec.origin] if spec.origin else [])
        for p in map(lambda s: Path(s).resolve(), paths):
            if p.exists() and not any(p.is_relative_to(root) for root in installed):
                found.append(p)
    return found


def source_version(locations: list[Path]) -> str:
    """A digest of every .py file's path, size and mtime under ``locations`` (a file removed,
    added or edited changes it). Costs a stat per file: a few milliseconds for a project."""
    h = hashlib.sha256()
    for location in locations:
        files = [location] if location.is_file() else sorted(location.rglob("*.py"))
        for f in files:
            try:
                st = f.stat()
            except OSError:  # removed while listed
                continue
            h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def same_interpreter(executable: str | None, current: str) -> bool:
    """Whether a code location's Python (``executable``) is this process's (same path: a different
    virtual environment with the same base interpreter is not the same)."""
    return bool(executable) and os.path.abspath(executable) == os.path.abspath(current)
