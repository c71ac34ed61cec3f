import subprocess
import sys

import dagster as dg

from fashion_assets.definitions import build_definitions, defs


def test_definitions_load_with_every_resource(tmp_path):
    dg.Definitions.validate_loadable(defs)
    other = build_definitions(tmp_path)
    graph = other.resolve_asset_graph()
    names = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"image_table", "label_table", "style_counts", "valid_labels", "leakage_report",
            "user_preferences", "preference_report", "image_quarantine", "label_quarantine"} <= names
    assert other.resolve_job_def("tables_job")


def test_core_does_not_import_dagster():
    # Every module under fashion_assets.core, imported in a fresh interpreter.
    code = ("import importlib, pkgutil, sys, fashion_assets.core as core\n"
            "names = [m.name for m in pkgutil.walk_packages(core.__path__, 'fashion_assets.core.') "
            "if not m.name.endswith('__main__')]\n"
            "[importlib.import_module(n) for n in names]\n"
            "assert len(names) > 15, names\n"
            "bad = [m for m in sys.modules if m.split('.')[0] == 'dagster']; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
