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

A warehouse named ``ducklake:postgres:<libpq connection string>`` is the cluster mode's instead
(``fashion_assets.storage``): a DuckLake whose catalog is a PostgreSQL database and whose data
files are Parquet on the shared folder. Any number of processes, on any number of machines, read
and write it at once, with the same SQL: :func:`connect` gives a connection whose default catalog
is the lake (no file lock to wait for), and :func:`commit` runs a replacement in one transaction,
again from the start when a concurrent writer committed a conflicting change first (bounded,
logged). The extensions are loaded from the files their PyPI packages ship (``INSTALL`` would
download them).
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

LAKE = "ducklake:"  # a warehouse string with this prefix is a DuckLake (the cluster mode)
LAKE_CATALOG = "lake"  # the name it is attached under (DuckDB rejects a catalog named like a schema)
LAKE_EXTENSIONS = ("duckdb_extension_postgres_scanner", "duckdb_extension_ducklake")  # PyPI packages, load order
COMMIT_ATTEMPTS = 8  # a replacement retried after a conflicting commit; each retry redoes the whole block
_CONFLICT = ("Failed to commit DuckLake transaction", "Transaction conflict")

_open: dict[str, int] = {}  # database path -> connections this process opened through connect()
_checked: dict[str, tuple] = {}  # database path -> the file's (inode, size, mtime) when last checked
_guard = threading.Lock()
_lakes: dict[tuple[int, str], duckdb.DuckDBPyConnection] = {}  # (pid, lake) -> the in-memory instance attaching it


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


def is_lake(database: str | Path) -> bool:
    return str(database).startswith(LAKE)


def shown(database: str | Path) -> str:
    """The warehouse as messages name it: a file by its name, a lake by its catalog's address
    (never a password)."""
    if not is_lake(database):
        return Path(database).name
    return "the DuckLake at " + re.sub(r"password=\S+", "password=***", str(database)[len(LAKE):])


def extension_files() -> list[str]:
    """The DuckDB extension files a lake needs, from the packages that ship them (in load order)."""
    import importlib

    files = []
    for package in LAKE_EXTENSIONS:
        try:
            module = importlib.import_module(package)
        except ImportError as exc:
            raise WarehouseError(f"the cluster warehouse needs the PyPI package {package.replace('_', '-')} "
                                 f"(for DuckDB {duckdb.__version__}): pip install -e '.[cluster]'") from exc
        found = sorted(Path(module.__file__).parent.glob(f"extensions/v{duckdb.__version__}/*.duckdb_extension"))
        if not found:
            raise WarehouseError(f"{package} has no extension file for DuckDB {duckdb.__version__} "
                                 f"(in {Path(module.__file__).parent}/extensions): install the matching version")
        files.append(str(found[0]))
    return files


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def create_lake(database: str, data_path: str | Path) -> None:
    """Create the lake (its catalog tables in the PostgreSQL database, its data folder) if it is
    not there yet; the data path is recorded in the catalog, so later attaches need only the name."""
    Path(data_path).mkdir(parents=True, exist_ok=True)
    instance = duckdb.connect(config=dict(CONFIG))
    try:
        for file in extension_files():
            instance.execute(f"LOAD {_quoted(file)}")
        instance.execute(f"ATTACH {_quoted(database)} AS {LAKE_CATALOG} (DATA_PATH {_quoted(str(data_path).rstrip('/') + '/')})")
    finally:
        instance.close()


def _lake(database: str) -> duckdb.DuckDBPyConnection:
    """This process's in-memory DuckDB with the lake attached (one per process: a forked worker
    makes its own). Every :func:`connect` is a cursor of it, with a transaction of its own."""
    key = (os.getpid(), database)
    with _guard:
        instance = _lakes.get(key)
        if instance is None:
            instance = duckdb.connect(config=dict(CONFIG))
            try:
                for file in extension_files():
                    instance.execute(f"LOAD {_quoted(file)}")
                instance.execute(f"ATTACH {_quoted(database)} AS {LAKE_CATALOG}")
            except duckdb.Error as exc:
                instance.close()
                raise WarehouseError(f"cannot open {shown(database)} ({str(exc).splitlines()[0][:300]}): is its "
                                     "PostgreSQL server running? (`make cluster-up`)") from exc
            _lakes[key] = instance
    return instance


@contextmanager
def connect(database: str | Path, read_only: bool = False, wait_seconds: float = LOCK_WAIT_SECONDS,
            log: Callable[[str], None] | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the warehouse, closed at the end of the block. While another process holds
    the file, waits its turn (at most ``wait_seconds``), saying so through ``log``. A lake has no
    turns to wait for: its connection is a cursor of this process's instance, the lake its default catalog."""
    if is_lake(database):
        cursor = _lake(str(database)).cursor()
        try:
            cursor.execute(f"USE {LAKE_CATALOG}")
            yield cursor
        finally:
            cursor.close()
        return
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


def _conflict(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.TransactionException) and any(c in str(exc) for c in _CONFLICT)


def commit(database: str | Path, connection: duckdb.DuckDBPyConnection, body: Callable[[], None],
           log: Callable[[str], None] | None = None, attempts: int = COMMIT_ATTEMPTS) -> int:
    """BEGIN, ``body()``, COMMIT (see :func:`transaction`). When a concurrent writer of a lake
    committed a conflicting change first (two replacements of one table), the whole block runs
    again on the new snapshot — it re-reads what it keeps — at most ``attempts`` times with a
    growing, jittered pause, each retry logged. Returns the number of retries."""
    for attempt in range(1, attempts + 1):
        connection.execute("BEGIN TRANSACTION")
        try:
            with transaction(database, connection):
                body()
            if log and attempt > 1:
                log(f"{shown(database)}: committed after {attempt - 1} retries")
            return attempt - 1
        except duckdb.TransactionException as exc:
            if not _conflict(exc):
                raise
            if attempt == attempts:
                raise WarehouseError(f"{shown(database)}: {attempts} attempts lost to concurrent writers "
                                     f"({str(exc).splitlines()[-1]}): materialize again") from exc
            if log:
                log(f"{shown(database)}: a concurrent writer committed first ({str(exc).splitlines()[-1]}); "
                    f"retrying ({attempt}/{attempts - 1})")
            time.sleep(min(0.05 * 2 ** attempt, 2.0) * random.uniform(0.5, 1.5))
    raise AssertionError("unreachable")
