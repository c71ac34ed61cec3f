"""Opening the DuckDB warehouse file, for every reader and writer of the project.

DuckDB lets one process at a time hold a database file (its lock covers readers too). Runs that
overlap on one machine — the daemon's run, ``make refresh-surveys``, a second refresh, the
summary — therefore take turns: :func:`connect` waits for the lock (bounded, jittered, logged with
the holder's PID) instead of failing. Each process holds the file only while it runs statements:
the I/O manager opens it per input and output, a step for the length of a ``with`` block.

It also tells a damaged file from a busy one: a file shorter than its own header says (cut short
by a full disk, a copy or a crash of the file system) is refused when the process first opens it,
with the remedy, instead of failing a later step on the blocks it happens to read; and a full
disk is reported as such, naming the folder.

Rows name files of the data root (raw images, image sets) by absolute path. The warehouse records
the data root it was written in; a warehouse opened in another folder (the data root copied with
``cp -a`` or moved) has those paths re-rooted in one transaction at its first open, so the copy
reads and writes only its own files.
"""

from __future__ import annotations

import errno
import os
import random
import re
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import duckdb

# What dagster-duckdb opens with: one process may hold one configuration of a file only.
CONFIG = {"custom_user_agent": "dagster"}
LOCK_WAIT_SECONDS = 600.0  # longer than any step holds the file (an incremental label scan: seconds)
QUIET_SECONDS = 1.0  # a shorter wait (another run's step boundary) is not worth a log line
HEADER_BYTES = 3 * 4096  # DuckDB's main header and its two database headers
_LOCKED = "Could not set lock on file"
_DAMAGED = ("Could not read enough bytes", "Corrupt database file", "checksum", "not a valid DuckDB database",
            "INTERNAL Error")
REMEDY = "restore it from a backup, or `make clean-data` and materialize again"

_open: dict[str, int] = {}  # database path -> connections this process opened through connect()
_checked: dict[str, tuple] = {}  # database path -> the file's (inode, size, mtime) when last checked
_guard = threading.Lock()


class WarehouseError(RuntimeError):
    """The warehouse cannot be used: locked too long, damaged, missing a table, or the disk is full."""


def _holder(message: str) -> str:
    """The lock holder as DuckDB names it ("... is held in /usr/bin/python3 (PID 123)")."""
    found = re.search(r"held in (.+?) \(PID (\d+)\)", message)
    return f"PID {found[2]} ({Path(found[1]).name})" if found else "another process"


def damaged(database: str | Path, exc: BaseException) -> WarehouseError | None:
    """The error to raise instead of ``exc`` when it says the file is damaged, else None."""
    text = str(exc)
    if isinstance(exc, duckdb.Error) and any(d in text for d in _DAMAGED):
        return WarehouseError(f"{Path(database).name} is damaged ({text.splitlines()[0]}): {REMEDY}")
    return None


def full_disk(database: str | Path, exc: BaseException) -> WarehouseError | None:
    """The error to raise instead of ``exc`` when the device holding the warehouse is full."""
    text = str(exc)
    if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "No space left on device" in text:
        return WarehouseError(f"no space left on the device holding {Path(database).parent}: the warehouse keeps its "
                              f"last committed rows; free some space and materialize again ({text.splitlines()[0]})")
    return None


def _check_size(database: str, connection: duckdb.DuckDBPyConnection) -> None:
    """A file too short to hold the blocks in use was cut short: refuse it now. (Free blocks at
    the end are truncated away by DuckDB itself, so only the used ones are counted.)"""
    if os.path.exists(database + ".wal"):  # a log to replay: the file is not the whole story yet
        return
    block_size, blocks = connection.execute("SELECT block_size, used_blocks FROM pragma_database_size() "
                                            "WHERE database_name = current_database()").fetchone()
    have, need = os.path.getsize(database), HEADER_BYTES + int(block_size) * int(blocks)
    if have < need:
        raise WarehouseError(f"{Path(database).name} is damaged (the file has {have:,} bytes, too few for the "
                             f"{blocks} blocks in use: it was cut short): {REMEDY}")


ROOT_TABLE = "main._data_root"  # one row: the folder whose paths the rows hold


def _reroot(database: str, connection: duckdb.DuckDBPyConnection, log: Callable[[str], None] | None) -> None:
    """Record the data root (the warehouse's folder) or, when the warehouse was written in
    another one, rewrite every path under the old root in text values (a path column, a reason
    quoting one) to the same path under this one."""
    root = str(Path(database).resolve().parent)
    found = connection.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' "
                               "AND table_name = '_data_root'").fetchone()[0]
    old = connection.execute(f"SELECT root FROM {ROOT_TABLE}").fetchone()[0] if found else None
    if old == root:
        return
    columns = connection.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns c JOIN information_schema.tables "
        "t USING (table_catalog, table_schema, table_name) WHERE data_type = 'VARCHAR' AND t.table_type = 'BASE TABLE' "
        "AND table_schema <> 'main' AND table_catalog = current_database()").fetchall() if old else []
    connection.execute("BEGIN TRANSACTION")
    try:
        changed = 0
        for schema, table, column in columns:
            changed += connection.execute(  # paths, and paths quoted in a reason
                f'UPDATE "{schema}"."{table}" SET "{column}" = replace("{column}", ?, ?) WHERE contains("{column}", ?)',
                [old + "/", root + "/", old + "/"]).fetchone()[0]
        connection.execute(f"CREATE OR REPLACE TABLE {ROOT_TABLE} AS SELECT ?::VARCHAR AS root", [root])
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    if old and log:
        log(f"{Path(database).name} was written in {old}: {changed} paths of its rows now name the same files "
            f"under {root}")


def _open_once(database: str, read_only: bool, log: Callable[[str], None] | None = None) -> duckdb.DuckDBPyConnection:
    try:
        connection = duckdb.connect(database, read_only=read_only, config=dict(CONFIG))
    except duckdb.Error as exc:
        raise (damaged(database, exc) or full_disk(database, exc) or exc) from exc
    with _guard:
        first = not _open.get(database)
        _open[database] = _open.get(database, 0) + 1
    if first and Path(database).exists() and _checked.get(database) != _file_state(database):
        try:
            _check_size(database, connection)
            if not read_only:
                _reroot(database, connection, log)
        except BaseException:
            _release(database, connection)
            raise
        _checked[database] = _file_state(database)
    return connection


def _file_state(database: str) -> tuple:
    st = os.stat(database)
    return st.st_ino, st.st_size, st.st_mtime_ns


def _release(database: str, connection: duckdb.DuckDBPyConnection) -> None:
    with _guard:
        _open[database] = max(_open.get(database, 1) - 1, 0)
    connection.close()


@contextmanager
def connect(database: str | Path, read_only: bool = False, wait_seconds: float = LOCK_WAIT_SECONDS,
            log: Callable[[str], None] | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the warehouse, closed at the end of the block. While another process holds
    the file, waits its turn (at most ``wait_seconds``), saying so through ``log``."""
    database = str(Path(database))
    start, delay, said = time.monotonic(), 0.02, 0.0
    while True:
        try:
            connection = _open_once(database, read_only, log)
            break
        except duckdb.IOException as exc:
            if _LOCKED not in str(exc):
                raise
            waited = time.monotonic() - start
            if waited >= wait_seconds:
                raise WarehouseError(f"{Path(database).name} stayed locked by {_holder(str(exc))} for {waited:.1f} s, "
                                     f"longer than the {wait_seconds:g} s a connection waits: is a run stuck? "
                                     f"({str(exc).splitlines()[0]})") from exc
            if log and waited >= QUIET_SECONDS and (not said or waited - said >= 15):
                log(f"{Path(database).name} is in use by {_holder(str(exc))}: waiting for its turn "
                    f"({waited:.1f} s so far, at most {wait_seconds:.0f} s)")
                said = waited
            time.sleep(min(delay, max(wait_seconds - waited, 0.0)) * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 0.5)
    if log and said:
        log(f"{Path(database).name}: got its turn after {time.monotonic() - start:.1f} s")
    try:
        yield connection
    finally:
        _release(database, connection)


@contextmanager
def transaction(database: str | Path, connection: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """The block's statements, then COMMIT; on any error ROLLBACK, and the error that caused it is
    the one raised (a disk that filled up is named as such, not hidden behind a failed rollback)."""
    try:
        yield
        connection.execute("COMMIT")
    except BaseException as exc:
        try:
            connection.execute("ROLLBACK")
        except duckdb.Error:  # the failed statement already ended the transaction
            pass
        better = full_disk(database, exc) or damaged(database, exc)
        if better is not None:
            raise better from exc
        raise
