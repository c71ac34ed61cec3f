"""Shared fixtures: a tiny generated dataset with faults, and one run of the tables stage over it."""

import json
import os

import dagster as dg
import pytest

from fashion_assets.demo_data.writer import TRUTH_FILE, GeneratorConfig, generate
from fashion_assets.definitions import build_definitions

TINY = GeneratorConfig(scale=0.02, seed=7, width=96, height=128, faults=True, workers=2)


@pytest.fixture(scope="session", autouse=True)
def isolated_dagster_home(tmp_path_factory):
    """Tests never touch the developer's Dagster instance: $DAGSTER_HOME is a fresh folder."""
    home = tmp_path_factory.mktemp("dagster_home")
    saved = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    yield home
    if saved is None:
        os.environ.pop("DAGSTER_HOME", None)
    else:
        os.environ["DAGSTER_HOME"] = saved


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
