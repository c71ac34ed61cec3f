"""Where every asset is stored. Nothing else in the package decides a storage location.

- Tables go to DuckDB (``<data root>/warehouse.duckdb``, schema ``fashion``) through Dagster's
  DuckDB I/O manager, changed so that a table or a partition slice is replaced in **one
  transaction** (a killed writer leaves the old rows, never an empty or half table; the stock
  handler commits its DELETE and its write separately) and so that empty frames and changed
  columns are stored too. Every open of the file — the I/O manager's, the warehouse resource's, a
  ``StoredTable``'s — goes through ``core.warehouse.connect``: overlapping runs take turns on its
  lock (bounded, logged), and a damaged file, a missing table or a full disk is named as such.
- Image sets are tables whose rows name files in the artifact store. Their files live in the
  folder the store gives the asset (and partition); after the table is committed, files no row
  names any more (deleted or changed sources, temp files of a killed run) are removed.
- Artifacts (a checkpoint, a feature matrix) are handles (``core.artifacts.Artifact``) stored as
  JSON by :class:`ArtifactIOManager`; each materialization writes into its own version folder and
  the handle is the commit point. Consumers receive the handle as an input.
"""

from __future__ import annotations

from abc import abstractmethod
import os
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

import dagster as dg
import duckdb
import pandas as pd
from dagster_duckdb.io_manager import DuckDbClient
from dagster_duckdb_pandas import DuckDBPandasIOManager, DuckDBPandasTypeHandler
from dagster_duckdb import DuckDBResource
from pydantic import Field

from .core.common import warehouse
from .runs.internals import DbIOManager
from .core.common.artifacts import Artifact, prune_files, prune_versions
from .core.common.atomic import write_text

# Definition metadata of an image-set output: which column (or list of columns) holds the files it owns.
FILE_COLUMN = "file_column"
HANDLE = "handle.json"
KEEP_VERSIONS = 2  # the current version and the one before it


def store_folder(root: str | Path, asset_key: dg.AssetKey, partition: str | None = None) -> Path:
    """The one layout of the artifact store: <root>/<asset key path>[/<partition>]."""
    folder = Path(root).joinpath(*asset_key.path)
    return folder / partition if partition else folder


def _handle_text(root: str | Path, artifact: Artifact) -> str:
    """A handle as stored: its path relative to the artifact store when it lies in the data root
    (``../mlflow/…`` for a registered checkpoint), so that a data root copied or moved elsewhere
    still names its own files, never the original's."""
    root = Path(root).resolve()
    path = Path(artifact.path)
    if path.is_absolute() and path.resolve().is_relative_to(root.parent):
        artifact = replace(artifact, path=os.path.relpath(path.resolve(), root))
    return artifact.to_json()


def _read_handle(root: str | Path, handle: Path) -> Artifact:
    """A stored handle with its path absolute again (relative paths are the artifact store's)."""
    artifact = Artifact.from_json(handle.read_text())
    path = Path(artifact.path)
    return artifact if path.is_absolute() else replace(artifact, path=os.path.normpath(Path(root).resolve() / path))


def _slice_where(context: dg.OutputContext, column: str) -> str:
    keys = ", ".join("'" + k.replace("'", "''") + "'" for k in context.asset_partition_keys)
    return f'"{column}" IN ({keys})'


def _table_exists(connection, table_slice) -> bool:
    return bool(connection.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [table_slice.schema, table_slice.table]).fetchone()[0])


def _database(connection) -> str:
    return connection.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]


def _kind(connection) -> str:
    """The storage kind the UI shows: duckdb, or ducklake for the cluster mode's warehouse."""
    return connection.execute("SELECT type FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]


def _retried(retries: int) -> dict:
    return {"commit_retries": dg.MetadataValue.int(retries)} if retries else {}


def _require_table(connection, table_slice, asset_key: dg.AssetKey) -> None:
    """A clear error, with the remedy, when a consumer's table is not in the warehouse."""
    if not _table_exists(connection, table_slice):
        asset = asset_key.to_user_string()
        raise warehouse.WarehouseError(
            f"the warehouse ({_database(connection)}) has no table {table_slice.table}: run `make run` (or materialize "
            f"{asset}) first")


def _committed(context, connection, body, **frames: pd.DataFrame) -> int:
    """``body()`` with ``frames`` registered under their names, in one transaction (retried from
    the start when a concurrent writer of a lake committed first); ROLLBACK on any error, raising
    the error that caused it. Returns the retries."""
    frames = {name: frame for name, frame in frames.items() if len(frame.columns)}  # DuckDB needs a column
    for name, frame in frames.items():
        connection.register(name, frame)
    try:
        return warehouse.commit(_database(connection), connection, body, log=context.log.info)
    finally:
        for name in frames:
            connection.unregister(name)


class WarehouseClient(DuckDbClient):
    @staticmethod
    def delete_table_slice(context, table_slice, connection) -> None:
        # The replacement happens in the type handler, in one transaction with the write (see
        # _committed), so that the old rows stay until the new ones are committed.
        pass

    @staticmethod
    def ensure_schema_exists(context, table_slice, connection) -> None:
        # Created once, in a transaction retried on a conflict: the first writers of a fresh lake
        # all try to create it at once, and only one can.
        found = connection.execute("SELECT count(*) FROM information_schema.schemata WHERE catalog_name = "
                                   "current_database() AND schema_name = ?", [table_slice.schema]).fetchone()[0]
        if not found:
            warehouse.commit(_database(connection), connection,
                             lambda: connection.execute(f"CREATE SCHEMA IF NOT EXISTS {table_slice.schema}"),
                             log=context.log.info)

    @staticmethod
    @contextmanager
    def connect(context, _) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.connect(context.resource_config["database"], log=context.log.info) as connection:
            yield connection


class WarehouseTypeHandler(DuckDBPandasTypeHandler):
    def __init__(self, artifact_root: str):
        self.artifact_root = artifact_root

    def load_input(self, context: dg.InputContext, table_slice, connection) -> pd.DataFrame:
        _require_table(connection, table_slice, context.asset_key)
        try:
            return super().load_input(context, table_slice, connection)
        except duckdb.Error as exc:
            raise warehouse.damaged(_database(connection), exc) or exc

    def handle_output(self, context: dg.OutputContext, table_slice, obj: pd.DataFrame, connection):
        table = f"{table_slice.schema}.{table_slice.table}"

        def replace_slice():
            if context.has_asset_partitions and _table_exists(connection, table_slice):
                # Other partitions' rows, then this slice's: one statement, columns matched by name
                # (a column added by new code is NULL in older slices instead of an error).
                keep = f"coalesce(NOT ({_slice_where(context, context.definition_metadata['partition_expr'])}), true)"
                connection.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {table} WHERE {keep} "
                                   "UNION ALL BY NAME SELECT * FROM _output_frame")
            else:
                connection.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM _output_frame")

        retries = _committed(context, connection, replace_slice, _output_frame=obj)
        file_columns = (context.definition_metadata or {}).get(FILE_COLUMN)
        if file_columns:
            self._prune(context, obj, [file_columns] if isinstance(file_columns, str) else list(file_columns))
        return {"dagster/row_count": dg.MetadataValue.int(len(obj)), "dagster/storage_kind": _kind(connection),
                **_retried(retries)}

    def _prune(self, context: dg.OutputContext, obj: pd.DataFrame, columns: list[str]) -> None:
        keep = {f for c in columns for f in obj[c].dropna()} if len(obj) else set()
        partitions = context.asset_partition_keys if context.has_asset_partitions else [None]
        removed = sum(len(prune_files(store_folder(self.artifact_root, context.asset_key, p), keep)) for p in partitions)
        if removed:
            context.log.info(f"removed {removed} files of {context.asset_key.to_user_string()} that no row names any more")


@dataclass
class TableChange:
    """A change to a stored table, for a table too large to rewrite on every small update: stored
    rows whose ``key`` columns match a row of ``remove`` or of ``add`` are deleted and ``add`` is
    inserted, in one transaction. With ``replace`` (or when the table does not exist yet) ``add`` is the whole table.
    Loading the table gives its rows in no particular order."""

    add: pd.DataFrame
    remove: pd.DataFrame = field(default_factory=pd.DataFrame)
    key: tuple[str, ...] = ()
    replace: bool = False


class _UnpartitionedHandler(DuckDBPandasTypeHandler):
    """Stores one output type of an unpartitioned table (loading it is the DataFrame handler's)."""

    stores: type

    @property
    def supported_types(self):
        return [self.stores]

    def handle_output(self, context: dg.OutputContext, table_slice, obj, connection):
        if context.has_asset_partitions:
            raise TypeError(f"{context.asset_key.to_user_string()}: a {self.stores.__name__} is for unpartitioned tables")
        return self.store(context, f"{table_slice.schema}.{table_slice.table}", table_slice, obj, connection)

    @abstractmethod
    def store(self, context, table: str, table_slice, obj, connection) -> dict:
        """Write ``obj`` as ``table`` (schema-qualified); the output metadata."""


class TableChangeHandler(_UnpartitionedHandler):
    """Stores a :class:`TableChange`."""

    stores = TableChange

    def store(self, context, table: str, table_slice, obj: TableChange, connection) -> dict:
        def change():
            if obj.replace or not _table_exists(connection, table_slice):
                connection.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM _added")
            else:
                # Rows of the removed keys and of the keys being inserted go first (an upsert): a
                # change applied twice, or computed by two overlapping runs from the same stored
                # rows, still leaves one row per key.
                keys = ", ".join(f'"{k}"' for k in obj.key)
                gone = " UNION ".join([f"SELECT {keys} FROM {name}" for name, frame in
                                       (("_removed", obj.remove), ("_added", obj.add)) if len(frame)])
                if gone:
                    match = " AND ".join(f't."{k}" = r."{k}"' for k in obj.key)
                    connection.execute(f"DELETE FROM {table} t USING ({gone}) r WHERE {match}")
                if len(obj.add):
                    connection.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _added")

        retries = _committed(context, connection, change, _added=obj.add, _removed=obj.remove)
        rows = connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        return {"dagster/row_count": dg.MetadataValue.int(rows), "dagster/storage_kind": _kind(connection),
                "rows_added": dg.MetadataValue.int(len(obj.add)),
                "rows_removed": dg.MetadataValue.int(len(obj.add) if obj.replace else len(obj.remove)), **_retried(retries)}


@dataclass(frozen=True)
class StoredTable:
    """A stored table handed to a consumer by reference, for a table too large to load whole (an
    input annotated ``StoredTable``): the consumer queries the columns and rows it needs."""

    database: str
    name: str  # schema-qualified

    def query(self, sql: str, **frames: pd.DataFrame) -> pd.DataFrame:
        """Rows of ``sql``, in which ``{table}`` is this table and each keyword a DataFrame
        registered under its name (to join with)."""
        with self.connection() as conn:
            for name, frame in frames.items():
                conn.register(name, frame)
            return conn.execute(sql.format(table=self.name)).df()

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the table's database for the block (temporary tables made on it are
        its own); waits its turn while another process holds the file."""
        with warehouse.connect(self.database, log=dg.get_dagster_logger().info) as connection:
            yield connection


@dataclass(frozen=True)
class QueryTable:
    """A table DuckDB builds from other stored tables: ``sql`` (a SELECT over schema-qualified
    tables) becomes the asset's table in one transaction, its rows never passing through pandas.
    Loading it gives a DataFrame, as any table."""

    sql: str


class QueryTableHandler(_UnpartitionedHandler):
    """Stores a :class:`QueryTable`."""

    stores = QueryTable

    def store(self, context, table: str, table_slice, obj: QueryTable, connection) -> dict:
        retries = _committed(context, connection, lambda: connection.execute(f"CREATE OR REPLACE TABLE {table} AS {obj.sql}"))
        rows = connection.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        return {"dagster/row_count": dg.MetadataValue.int(rows), "dagster/storage_kind": _kind(connection),
                **_retried(retries)}


class StoredTableHandler(DuckDBPandasTypeHandler):
    """Loads a table as a :class:`StoredTable` reference (storing one is not a thing)."""

    def __init__(self, database: str):
        self.database = database

    @property
    def supported_types(self):
        return [StoredTable]

    def handle_output(self, context, table_slice, obj, connection):
        raise TypeError(f"{context.asset_key.to_user_string()}: a StoredTable is an input type, not an output")

    def load_input(self, context: dg.InputContext, table_slice, connection) -> StoredTable:
        _require_table(connection, table_slice, context.asset_key)
        return StoredTable(self.database, f"{table_slice.schema}.{table_slice.table}")


class WarehouseIOManager(DuckDBPandasIOManager):
    """DuckDB I/O manager for every table: one transaction per replacement; image-set file pruning."""

    artifact_root: str = Field(default="", description="The artifact store's root (image-set files live there).")

    def create_io_manager(self, context) -> DbIOManager:
        return DbIOManager(db_client=WarehouseClient(), database=self.database, schema=self.schema_,
                           type_handlers=[WarehouseTypeHandler(self.artifact_root), TableChangeHandler(),
                                          QueryTableHandler(), StoredTableHandler(self.database)],
                           default_load_type=pd.DataFrame, io_manager_name="WarehouseIOManager")


class WarehouseResource(DuckDBResource):
    """Read access to the warehouse for an asset that continues from its own previous rows
    (incremental work: only new or changed inputs are processed)."""

    table_schema: str = Field(default="fashion", description="Schema of the project's tables.")

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for the block; waits its turn while another process holds the file."""
        with warehouse.connect(self.database, log=dg.get_dagster_logger().info) as connection:
            yield connection

    def previous_rows(self, table: str, partitions: list[str] | None = None, column: str = "partition",
                      columns: list[str] | None = None) -> pd.DataFrame:
        """The stored rows of ``table`` (only the given partitions; only ``columns``); empty when
        it does not exist or lacks one of ``columns`` (stored by older code)."""
        with self.get_connection() as conn:
            have = {r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns WHERE "
                                                "table_schema = ? AND table_name = ?", [self.table_schema, table]).fetchall()}
            if not have or not set(columns or ()) <= have:
                return pd.DataFrame()
            select = ", ".join(f'"{c}"' for c in columns) if columns else "*"
            query = f"SELECT {select} FROM {self.table_schema}.{table}"
            if partitions is not None:
                query += f' WHERE "{column}" IN (SELECT unnest(?::VARCHAR[]))'
                return conn.execute(query, [list(partitions)]).df()
            return conn.execute(query).df()

    def stored_partitions(self, table: str, column: str = "partition") -> set[str]:
        """The partitions that have rows in ``table`` (none when the table does not exist): what
        the warehouse holds, whatever the instance's records say (they outlive ``make clean-data``)."""
        return set(self.previous_rows(table, columns=[column]).get(column, pd.Series(dtype=str)).dropna().unique())



class ArtifactStore(dg.ConfigurableResource):
    """Folders in the artifact store for the asset being materialized (producers only; consumers
    receive a handle)."""

    root: str = Field(description="Root folder of the artifact store, <data root>/artifacts.")

    def folder(self, asset_key: dg.AssetKey, partition: str | None = None) -> Path:
        path = store_folder(self.root, asset_key, partition)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def version_folder(self, context: dg.AssetExecutionContext) -> Path:
        """A fresh folder for this materialization's files: <asset>/<run id>."""
        return self.folder(context.asset_key, context.run_id.split("-")[0])

    def current(self, asset_key: dg.AssetKey) -> Artifact | None:
        """The asset's own stored handle, if any (a producer deciding whether its inputs changed)."""
        handle = store_folder(self.root, asset_key) / HANDLE
        artifact = _read_handle(self.root, handle) if handle.exists() else None
        return artifact if artifact and Path(artifact.path).exists() else None

    def work_folder(self, context: dg.AssetExecutionContext) -> Path:
        """The asset's working folder that survives an interrupted run (resumable state)."""
        return self.folder(context.asset_key, "work")


class ArtifactIOManager(dg.ConfigurableIOManager):
    """Stores :class:`Artifact` handles (JSON) per asset; the handle is the commit point. Older
    version folders beyond the last ``KEEP_VERSIONS`` are removed."""

    root: str = Field(description="Root folder of the artifact store, <data root>/artifacts.")

    def handle_output(self, context: dg.OutputContext, obj: Artifact) -> None:
        if not isinstance(obj, Artifact):
            raise TypeError(f"{context.asset_key.to_user_string()} must return an Artifact handle, got {type(obj).__name__}")
        folder = store_folder(self.root, context.asset_key)
        handle = folder / HANDLE
        previous = Artifact.from_json(handle.read_text()).version if handle.exists() else None
        write_text(handle, _handle_text(self.root, obj))
        prune_versions(folder, keep=[v for v in (obj.version, previous) if v][:KEEP_VERSIONS])
        context.add_output_metadata({"path": dg.MetadataValue.path(obj.path), "version": obj.version,
                                     "inputs_version": obj.inputs_version})

    def stored(self, asset_key: dg.AssetKey) -> Artifact | None:
        """The asset's stored handle, or None when there is none (for tools outside a run)."""
        handle = store_folder(self.root, asset_key) / HANDLE
        return _read_handle(self.root, handle) if handle.exists() else None

    def load_input(self, context: dg.InputContext) -> Artifact:
        key = context.upstream_output.asset_key if context.upstream_output else context.asset_key
        handle = store_folder(self.root, key) / HANDLE
        if not handle.exists():
            raise FileNotFoundError(f"{key.to_user_string()} has no stored artifact ({handle} is missing): "
                                    f"materialize {key.to_user_string()} first")
        artifact = _read_handle(self.root, handle)
        if not Path(artifact.path).exists():
            raise FileNotFoundError(f"{key.to_user_string()}'s artifact file {artifact.path} is missing "
                                    "(removed by hand?): materialize it again")
        return artifact
