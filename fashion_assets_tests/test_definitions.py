import importlib
import pkgutil
import subprocess
import sys

import dagster as dg

import fashion_assets
from fashion_assets.definitions import build_definitions, defs


def _defined_in_package() -> tuple[set[dg.AssetKey], set[dg.AssetCheckKey]]:
    """Every asset and check object at module level anywhere in the package."""
    assets, checks = set(), set()
    for info in pkgutil.walk_packages(fashion_assets.__path__, "fashion_assets."):
        if info.name.endswith("__main__") or info.name == "fashion_assets.definitions_k8s":
            continue
        for value in vars(importlib.import_module(info.name)).values():
            if isinstance(value, dg.AssetsDefinition):
                assets |= set(value.keys)
                checks |= set(value.check_keys)
            elif isinstance(value, dg.SourceAsset):
                assets.add(value.key)
            elif isinstance(value, dg.AssetChecksDefinition):
                checks |= set(value.check_keys)
    return assets, checks


def test_every_asset_and_check_in_the_package_is_in_the_definitions(tmp_path):
    dg.Definitions.validate_loadable(defs)
    graph = build_definitions(tmp_path).resolve_asset_graph()
    assets, checks = _defined_in_package()
    assert len(assets) >= 30 and len(checks) >= 10
    assert assets == set(graph.get_all_asset_keys())
    assert checks == set(graph.asset_check_keys)


def test_every_materializable_asset_has_a_code_version(tmp_path):
    graph = build_definitions(tmp_path).resolve_asset_graph()
    missing = [k.to_user_string() for k in graph.materializable_asset_keys if not graph.get(k).code_version]
    assert not missing


def test_core_does_not_import_dagster():
    # Every module under fashion_assets.core, imported in a fresh interpreter.
    code = ("import importlib, pkgutil, sys, fashion_assets.core as core\n"
            "names = [m.name for m in pkgutil.walk_packages(core.__path__, 'fashion_assets.core.') "
            "if not m.name.endswith('__main__')]\n"
            "[importlib.import_module(n) for n in names]\n"
            "assert len(names) > 15, names\n"
            "bad = [m for m in sys.modules if m.split('.')[0] == 'dagster']; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
