"""The two storage modes, and the one setting that chooses between them.

``FASHION_ASSETS_MODE`` (``make … MODE=``):

- ``embedded`` (the default): the warehouse is ``<data root>/warehouse.duckdb``, MLflow's store
  ``<data root>/mlflow/mlflow.db`` (SQLite), the Dagster instance SQLite under ``DAGSTER_HOME``.
  One machine; overlapping runs take turns on the warehouse's lock.
- ``cluster``: one PostgreSQL server holds the Dagster instance (database ``dagster``, through
  dagster-postgres), MLflow's tracking and registry store (``mlflow``) and the warehouse's catalog
  (``warehouse``: a DuckLake whose Parquet data files are in ``<data root>/lake/``). The data
  root is the folder every worker shares (Kubernetes: the ReadWriteMany volume): image-set files,
  artifacts, MLflow's artifacts and the lake's data files live there in both modes.

The server is found in ``<data root>/cluster/server.json`` (written by ``make cluster-up``: host,
port, user, password file) or, without it, libpq's own variables (``PGHOST``, ``PGPORT``,
``PGUSER``, ``PGPASSWORD``; the Helm values set them from a secret). No asset knows which mode it
runs in: the I/O managers and resources are given the stores chosen here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

MODE_ENV = "FASHION_ASSETS_MODE"
EMBEDDED, CLUSTER = "embedded", "cluster"
MODES = (EMBEDDED, CLUSTER)
CLUSTER_FOLDER = "cluster"  # under the data root: the local server's files, its settings, the cluster instance's home
SERVER_FILE = "server.json"
DATABASES = {"dagster": "dagster", "mlflow": "mlflow", "warehouse": "warehouse"}  # role -> database name
LAKE_FOLDER = "lake"  # under the data root: the DuckLake's Parquet files


@dataclass(frozen=True)
class Server:
    """How to reach the PostgreSQL server (the password is in ``passfile`` or ``PGPASSWORD``)."""

    host: str = ""
    port: int = 5432
    user: str = ""
    passfile: str = ""

    @classmethod
    def from_env(cls) -> "Server":
        return cls(host=os.environ.get("PGHOST", ""), port=int(os.environ.get("PGPORT", "5432")),
                   user=os.environ.get("PGUSER", ""), passfile=os.environ.get("PGPASSFILE", ""))

    def conninfo(self, database: str) -> str:
        """A libpq connection string (DuckDB's postgres extension, psycopg)."""
        parts = {"dbname": database, "host": self.host, "port": str(self.port), "user": self.user,
                 "passfile": self.passfile}
        return " ".join(f"{k}={v}" for k, v in parts.items() if v)

    def url(self, database: str) -> str:
        """A SQLAlchemy URL (MLflow, dagster-postgres); the password comes from libpq. psycopg2, the
        driver dagster-postgres needs (its NOTIFY is not valid with psycopg 3's server-side parameters)."""
        user = quote(self.user) + "@" if self.user else ""
        query = f"?passfile={quote(self.passfile)}" if self.passfile else ""
        return f"postgresql+psycopg2://{user}{self.host}:{self.port}/{database}{query}"


@dataclass(frozen=True)
class Storage:
    mode: str
    warehouse: str  # a DuckDB file, or ducklake:postgres:<conninfo>
    tracking_uri: str | None  # MLflow's store; None = the registry's own SQLite file under the data root
    server: Server | None = None
    lake_data: Path | None = None


def mode_from_env() -> str:
    mode = os.environ.get(MODE_ENV, "").strip() or EMBEDDED
    if mode not in MODES:
        raise ValueError(f"{MODE_ENV}={mode!r}: the storage mode is one of {', '.join(MODES)}")
    return mode


def server_for(root: str | Path) -> Server:
    """The cluster's server: ``<data root>/cluster/server.json`` when ``make cluster-up`` wrote it, else libpq's variables."""
    file = Path(root).expanduser().resolve() / CLUSTER_FOLDER / SERVER_FILE
    if file.exists():
        return Server(**json.loads(file.read_text()))
    return Server.from_env()


def storage_for(root: str | Path, mode: str | None = None) -> Storage:
    """The stores of the data root ``root`` in ``mode`` (default: the environment's)."""
    root = Path(root).expanduser().resolve()
    mode = mode or mode_from_env()
    if mode == EMBEDDED:
        return Storage(EMBEDDED, warehouse=str(root / "warehouse.duckdb"), tracking_uri=None)
    server = server_for(root)
    return Storage(CLUSTER, warehouse="ducklake:postgres:" + server.conninfo(DATABASES["warehouse"]),
                   tracking_uri=server.url(DATABASES["mlflow"]), server=server, lake_data=root / LAKE_FOLDER)
