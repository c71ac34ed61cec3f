"""Shared fixtures: a tiny generated dataset with faults, and one run of the tables stage over it."""

import json
import os

import dagster as dg
import pytest

from fashion_assets.demo_data.writer import TRUTH_FILE, GeneratorConfig, generate
from fashion_assets.definitions import build_definitions
from fashion_assets.storage import EMBEDDED, MODE_ENV

TINY = GeneratorConfig(scale=0.02, seed=7, width=96, height=128, faults=True, workers=2)


@pytest.fixture(scope="session", autouse=True)
def isolated_dagster_home(tmp_path_factory):
    """Tests never touch the developer's Dagster instance: $DAGSTER_HOME is a fresh folder; and
    they run in the embedded storage mode whatever the shell says (the cluster-mode tests choose
    theirs explicitly)."""
    home = tmp_path_factory.mktemp("dagster_home")
    saved = {k: os.environ.get(k) for k in ("DAGSTER_HOME", MODE_ENV)}
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ[MODE_ENV] = EMBEDDED
    yield home
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def cluster_root(tmp_path_factory):
    """A data root with the cluster mode's PostgreSQL running (``make cluster-up``'s code, on a
    free port of 127.0.0.1), stopped at the end. Outside CI, skipped when PostgreSQL is missing
    and cannot be installed; in CI that is a failure."""
    import socket

    from fashion_assets.cli import cluster

    root = tmp_path_factory.mktemp("cluster") / "root"
    root.mkdir()
    if os.geteuid() == 0:  # the server runs as postgres then: pytest's folders are closed to other users
        for folder in [root, *root.parents]:
            if folder.stat().st_uid == 0 and not folder.stat().st_mode & 0o001:
                folder.chmod(folder.stat().st_mode | 0o005)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        cluster.up(root, port=port)
    except cluster.ClusterError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no PostgreSQL for the cluster mode: {exc}")
    yield root
    cluster.down(root)


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
    """A data root whose raw/ holds a tiny generated dataset with every kind of fault."""
    root = tmp_path_factory.mktemp("data_root")
    generate(root / "raw", TINY, log=lambda _: None)
    return root


@pytest.fixture(scope="session")
def truth(tiny_root):
    return json.loads((tiny_root / "raw" / TRUTH_FILE).read_text())


@pytest.fixture(scope="session")
def tables_run(tiny_root):
    """(definitions, result) of one in-process run of the tables job over the tiny dataset."""
    defs = build_definitions(tiny_root)
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("tables_job").execute_in_process(instance=instance)
    assert result.success
    return defs, result
