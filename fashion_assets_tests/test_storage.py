"""The storage mode: one setting, embedded by default, the cluster's server from make cluster-up's file or libpq's variables."""

import json

import pytest

from fashion_assets.definitions import build_definitions
from fashion_assets.storage import MODE_ENV, Server, storage_for


def test_embedded_is_the_default_and_keeps_its_files(tmp_path, monkeypatch):
    monkeypatch.delenv(MODE_ENV, raising=False)
    stores = storage_for(tmp_path)
    assert (stores.mode, stores.warehouse, stores.tracking_uri) == ("embedded", str(tmp_path / "warehouse.duckdb"), None)
    resources = build_definitions(tmp_path).resources
    assert resources["io_manager"].database == resources["warehouse"].database == str(tmp_path / "warehouse.duckdb")
    assert resources["model_registry"].registry().uri == f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"


def test_cluster_mode_reads_the_server_make_cluster_up_wrote(tmp_path, monkeypatch):
    (tmp_path / "cluster").mkdir()
    (tmp_path / "cluster" / "server.json").write_text(json.dumps(
        {"host": "127.0.0.1", "port": 55999, "user": "fashion", "passfile": str(tmp_path / "cluster" / "pgpass")}))
    monkeypatch.setenv(MODE_ENV, "cluster")
    stores = storage_for(tmp_path)
    assert stores.warehouse == ("ducklake:postgres:dbname=warehouse host=127.0.0.1 port=55999 user=fashion "
                                f"passfile={tmp_path}/cluster/pgpass")
    assert stores.tracking_uri == f"postgresql+psycopg2://fashion@127.0.0.1:55999/mlflow?passfile={tmp_path}/cluster/pgpass"
    resources = build_definitions(tmp_path).resources  # no asset code changes: only what the resources are given
    assert resources["io_manager"].database == resources["warehouse"].database == stores.warehouse
    assert resources["model_registry"].registry().uri == stores.tracking_uri


def test_without_the_file_the_server_is_libpq_s_variables(tmp_path, monkeypatch):
    for key, value in {"PGHOST": "db.internal", "PGPORT": "5433", "PGUSER": "dagster"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("PGPASSFILE", raising=False)
    stores = storage_for(tmp_path, "cluster")
    assert stores.server == Server("db.internal", 5433, "dagster")
    assert "password" not in stores.warehouse and stores.warehouse.endswith("host=db.internal port=5433 user=dagster")


def test_an_unknown_mode_is_refused_naming_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv(MODE_ENV, "clustr")
    with pytest.raises(ValueError, match="FASHION_ASSETS_MODE='clustr': the storage mode is one of embedded, cluster"):
        storage_for(tmp_path)
