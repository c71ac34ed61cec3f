"""Read the raw folders: image files (name, header, content hash) and survey-label JSON files.

Every file ends up either as a row or as a quarantine row (split, folder, file_name, reason):
nothing is dropped. Label parsing is the hot path at full scale (~250k small files), so it runs
in worker processes over chunks and builds columns, not per-row objects.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from dataclasses import dataclass
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from PIL import Image

from ..common.artifacts import unordered_version
from .file_match import KEY_COLUMNS, StoredMatch, match_frame, unchanged_rows
from ..common.fingerprint import Entries, Listing, fingerprint, read_folder
from .filenames import FilenameError, parse_image_name, parse_label_name, shown_name
from ..images.imaging import EXIF_ORIENTATION
from .survey_json import LABEL_VALUE_COLUMNS, SURVEY_FIELDS, USER_FIELDS, LabelError, parse_label_document

IMAGE_FOLDERS = {"Train": "training_image", "Validation": "validation_image"}
LABEL_FOLDERS = {"Train": "training_label", "Validation": "validation_label"}
RAW_SOURCES = {"raw_images": IMAGE_FOLDERS, "raw_labels": LABEL_FOLDERS}  # the raw source assets' folders
QUARANTINE_COLUMNS = ["split", "folder", "file_name", "reason"]
NAME_COLUMNS = ["file_name", "split", "prefix", "image_id", "era", "style", "style_raw", "sex", "class_label", "style_known"]


def list_entries(folder: Path, with_stat: bool = False, entries: Entries | None = None) -> tuple[list, list[tuple[str, str]]]:
    """(regular files, [(other entry, why it is not used)]) of a folder: every entry is one or
    the other. Files are sorted names, or ([names], [sizes], [mtime_ns]) in directory order
    ``with_stat``. ``entries``: the folder's listing already read (``fingerprint.read_folder``),
    so that it is not read again. A missing folder is an error that names it."""
    if entries is None:
        if not folder.is_dir():
            raise FileNotFoundError(f"expected folder {folder} (see data/README.md for the raw layout)")
        entries = read_folder(folder)
    names = entries.names
    hidden = np.zeros(len(names), dtype=bool)
    if "\0." in "\0" + "\0".join(names):  # one C-level scan; a hidden name is rare
        hidden = np.fromiter((n.startswith(".") for n in names), dtype=bool, count=len(names))
    undecodable = np.zeros(len(names), dtype=bool)
    try:  # one C-level pass; a name that is not UTF-8 (from another system's share) is rare
        "\0".join(names).encode("utf-8")
    except UnicodeEncodeError:
        undecodable = np.fromiter((not _is_utf8(n) for n in names), dtype=bool, count=len(names))
    regular = (entries.kinds == stat.S_IFREG) & ~hidden & ~undecodable
    sizes, mtimes = entries.sizes.copy(), entries.mtimes.copy()
    others = []
    for k in np.flatnonzero(~regular):
        name, kind = entries.names[k], entries.kinds[k]
        if undecodable[k]:
            others.append((shown_name(name), "file name is not valid UTF-8 (its bytes are shown escaped): rename it; "
                                             "not read"))
        elif hidden[k]:
            others.append((name, "hidden entry (name starts with '.'); not read"))
        elif kind == stat.S_IFLNK:  # a link to a file is that file
            try:
                st = os.stat(folder / name)
            except OSError:
                st = None
            if st is not None and stat.S_ISREG(st.st_mode):
                regular[k], sizes[k], mtimes[k] = True, st.st_size, st.st_mtime_ns
            elif st is not None:
                others.append((name, f"not a regular file (a symbolic link to {shown_name(os.readlink(folder / name))}, which is "
                                     f"{_kind_name(st.st_mode)})"))
            else:
                others.append((name, f"broken symbolic link (to {shown_name(os.readlink(folder / name))})"))
        elif kind == stat.S_IFDIR:
            others.append((name, "a sub-folder; the raw layout has files only, sub-folders are not read"))
        else:
            others.append((name, "not a regular file"))
    files = list(names) if regular.all() else [n for n, r in zip(names, regular.tolist()) if r]
    return ((files, sizes[regular], mtimes[regular]) if with_stat else sorted(files)), sorted(others)


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _kind_name(mode: int) -> str:
    kinds = {stat.S_IFDIR: "a folder", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
             stat.S_IFIFO: "a named pipe", stat.S_IFSOCK: "a socket"}
    return kinds.get(stat.S_IFMT(mode), "not a regular file")


def list_files(folder: Path) -> list[str]:
    """Regular file names in a folder, sorted."""
    return list_entries(folder)[0]


def _name_row(parsed, split: str) -> dict:
    return dict(file_name=parsed.file_name, split=split, prefix=parsed.prefix, image_id=parsed.image_id,
                era=parsed.era, style=parsed.style, style_raw=parsed.style_raw, sex=parsed.sex,
                class_label=parsed.class_label, style_known=parsed.style_known)


def inspect_jpeg(path: Path) -> dict:
    """Header facts and content hash of one image file; raises ValueError saying what is wrong.

    The image data is decoded (at 1/8 scale: cheap) so that a file cut short is caught wherever it
    ends, while bytes after the end-of-image marker (phones' "motion photo" trailers) are fine.
    Width and height are as displayed, after the EXIF orientation."""
    data = path.read_bytes()
    if not data:
        raise ValueError("empty file")
    if not data.startswith(b"\xff\xd8\xff"):
        raise ValueError("not a readable JPEG (no JPEG start-of-image marker)")
    try:
        with Image.open(io.BytesIO(data)) as im:
            width, height, mode = im.width, im.height, im.mode
            orientation = int(im.getexif().get(EXIF_ORIENTATION, 1))
            im.draft("RGB", (max(1, width // 8), max(1, height // 8)))
            im.load()
    except OSError as exc:
        if "truncated" in str(exc):
            raise ValueError(f"truncated JPEG (the image data ends early: {exc})") from exc
        raise ValueError(f"not a readable JPEG ({exc})") from exc
    except Exception as exc:  # PIL raises many types for bad headers
        raise ValueError(f"not a readable JPEG ({exc})") from exc
    if orientation in (5, 6, 7, 8):  # rotated by 90°: displayed with width and height swapped
        width, height = height, width
    return dict(width=width, height=height, mode=mode, orientation=orientation, bytes=len(data),
                sha1=hashlib.sha1(data).hexdigest())


def scan_images(raw: Path, threads: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(image_rows, quarantine) for both image folders under ``raw``."""
    rows, quarantine = [], []
    todo = []
    for split, folder in IMAGE_FOLDERS.items():
        names, others = list_entries(raw / folder)
        quarantine += [dict(split=split, folder=folder, file_name=n, reason=why) for n, why in others]
        for name in names:
            try:
                todo.append((_name_row(parse_image_name(name), split), raw / folder / name))
            except FilenameError as exc:
                quarantine.append(dict(split=split, folder=folder, file_name=name, reason=f"bad file name: {exc}"))

    def inspect(item):
        row, path = item
        try:
            return {**row, "path": str(path), **inspect_jpeg(path)}, None
        except ValueError as exc:
            return None, dict(split=row["split"], folder=path.parent.name, file_name=row["file_name"], reason=str(exc))

    with ThreadPoolExecutor(threads) as pool:  # hashing and file reads release the GIL
        for row, bad in pool.map(inspect, todo):
            (rows if row else quarantine).append(row or bad)
    columns = NAME_COLUMNS + ["path", "width", "height", "mode", "orientation", "bytes", "sha1"]
    return pd.DataFrame(rows, columns=columns), pd.DataFrame(quarantine, columns=QUARANTINE_COLUMNS)


def _parse_label_chunk(chunk: list[tuple]) -> tuple[pd.DataFrame, list]:
    """Worker: (split, folder path, name, size, mtime) tuples → (table chunk, quarantine rows).

    The chunk's DataFrame is built here, in the worker, so that building it runs in parallel too.
    """
    rows, bad = [], []
    for split, folder, name, size, mtime in chunk:
        try:
            parsed = parse_label_name(name)
            with open(os.path.join(folder, name), "rb") as fh:
                values = parse_label_document(fh.read())
        except (FilenameError, LabelError) as exc:
            reason = f"bad file name: {exc}" if isinstance(exc, FilenameError) else str(exc)
            bad.append((split, os.path.basename(folder), name, reason, size, mtime))
            continue
        except OSError as exc:
            bad.append((split, os.path.basename(folder), name, f"unreadable file ({exc.strerror})", size, mtime))
            continue
        except Exception as exc:  # a case the parser does not know yet: this file, not the step, fails
            bad.append((split, os.path.basename(folder), name, f"{UNEXPECTED} ({type(exc).__name__}: {exc})"[:500],
                        size, mtime))
            continue
        rows.append((name, split, parsed.prefix, parsed.image_id, parsed.era, parsed.style, parsed.style_raw,
                     parsed.sex, parsed.class_label, parsed.style_known, parsed.survey_id, parsed.jpg_name)
                    + values + (size, mtime))
    return _typed(pd.DataFrame.from_records(rows, columns=LABEL_COLUMNS)), bad


UNEXPECTED = "could not be parsed: an error the parser does not name"


LABEL_COLUMNS = NAME_COLUMNS + ["survey_id", "jpg_name"] + LABEL_VALUE_COLUMNS + ["file_size", "file_mtime_ns"]
INT_COLUMNS = ["E_id", *USER_FIELDS, *SURVEY_FIELDS, "file_size", "file_mtime_ns"]
LABEL_QUARANTINE_COLUMNS = QUARANTINE_COLUMNS + ["file_size", "file_mtime_ns"]


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    """Nullable integers (optional answers may be absent; Q3 often is), whatever the source."""
    return table.astype({c: "Int64" for c in INT_COLUMNS if c in table.columns})


def label_listing(raw: Path, listing: Listing | None = None) -> tuple[pd.DataFrame, list[tuple], str]:
    """(regular label files with size and mtime, quarantine rows for every other entry, the
    digest of the folders' listing). ``listing``: the label folders' listing already read (the
    sensor's fingerprint); else they are listed (and fingerprinted) here."""
    for folder in LABEL_FOLDERS.values():
        if not (raw / folder).is_dir():
            raise FileNotFoundError(f"expected folder {raw / folder} (see data/README.md for the raw layout)")
    listing = listing or fingerprint([raw / folder for folder in LABEL_FOLDERS.values()])
    parts, others = [], []
    for split, folder in LABEL_FOLDERS.items():
        (names, sizes, mtimes), odd = list_entries(raw / folder, with_stat=True, entries=listing.folders.get(folder))
        # Column by column: a frame built from 250k row tuples costs seconds.
        parts.append(pd.DataFrame({"split": split, "folder": str(raw / folder), "file_name": names,
                                   "file_size": np.asarray(sizes, dtype=np.int64),
                                   "file_mtime_ns": np.asarray(mtimes, dtype=np.int64)}))
        others += [(split, folder, name, why, None, None) for name, why in odd]
    return pd.concat(parts, ignore_index=True), others, listing.digest


@dataclass
class LabelChanges:
    """What a scan changes in the stored label table: rows of new or changed files to add, stored
    rows to remove (their file changed or is gone), and the whole quarantine (it is small)."""

    added: pd.DataFrame
    removed: pd.DataFrame  # split, file_name of stored rows that no longer hold
    quarantine: pd.DataFrame
    listing: pd.DataFrame  # every regular file now: split, file_name, file_size, file_mtime_ns
    counts: dict
    listing_digest: str = ""  # of the folders' listing (every entry: name, kind, size, mtime)

    @property
    def version(self) -> str:
        """The parsed table's data version: the listing it was parsed from and the quarantine
        (whose reasons depend on the parser too)."""
        return hashlib.sha256(f"{self.listing_digest}:{unordered_version(self.quarantine)}".encode()).hexdigest()[:20]


def label_changes(raw: Path, stored: pd.DataFrame | Callable[[pd.DataFrame], StoredMatch | None] | None = None,
                  stored_quarantine: pd.DataFrame | None = None, workers: int | None = None, chunk_size: int = 4000,
                  progress: Callable[[int, int], None] | None = None, listing: Listing | None = None) -> LabelChanges:
    """Compare both label folders under ``raw`` with the stored rows and parse only new or changed
    files. Without stored rows every file is parsed. ``stored``: the rows (KEY_COLUMNS at least),
    or a function matching the listing against them where they are stored (``match_stored``).
    ``listing``: the folders' listing already read (else they are listed here)."""
    files, others, digest = label_listing(raw, listing)
    match = (stored(files) if callable(stored) else None) or match_frame(None if callable(stored) else stored, files)
    bad_at = unchanged_rows(stored_quarantine, files)
    keep_bad = bad_at >= 0
    reused_bad = (stored_quarantine[keep_bad][LABEL_QUARANTINE_COLUMNS] if keep_bad.any()
                  else pd.DataFrame(columns=LABEL_QUARANTINE_COLUMNS))
    # The files whose stored row (or quarantine row) still holds are not read again.
    done = np.zeros(len(files), dtype=bool)
    done[match.unchanged_at] = done[bad_at[keep_bad]] = True
    files_left = files[~done]
    todo = list(files_left.itertuples(index=False, name=None))
    chunks = [todo[i:i + chunk_size] for i in range(0, len(todo), chunk_size)] or [[]]
    workers = workers or os.cpu_count() or 1
    tables, bad, parsed = [], list(others), 0
    pool = ProcessPoolExecutor(workers) if workers > 1 and len(chunks) > 1 else None
    try:
        for table, chunk_bad in (pool.map(_parse_label_chunk, chunks) if pool else map(_parse_label_chunk, chunks)):
            tables.append(table)
            bad += chunk_bad
            parsed += len(table) + len(chunk_bad)
            if progress:
                progress(parsed, len(todo))
    finally:
        if pool:
            pool.shutdown()
    added = _typed(pd.concat([t for t in tables if len(t)] or tables[:1], ignore_index=True))
    quarantine = [pd.DataFrame.from_records(bad, columns=LABEL_QUARANTINE_COLUMNS), reused_bad]
    quarantine = pd.concat([q for q in quarantine if len(q)] or quarantine[:1], ignore_index=True)
    counts = {"files": len(files) + len(others), "parsed": len(todo), "unchanged": len(files) - len(todo),
              "rows_removed": len(match.removed), "previous_rows": match.stored_rows}
    return LabelChanges(added.sort_values(["split", "file_name"], ignore_index=True), match.removed,
                        _typed(quarantine).sort_values(["split", "file_name"], ignore_index=True),
                        files[KEY_COLUMNS], counts, digest)
