"""The package's rules by role (docs/layout.md), read from every module's imports: nothing imports
upward, a tool is imported by no one, and Dagster's private API is used in one module only."""

import ast
from pathlib import Path

import fashion_assets

PACKAGE = Path(fashion_assets.__file__).parent


def _imports() -> dict[str, set[str]]:
    """Every module of the package → the absolute names it imports (relative imports resolved)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        here = parts[:-1]
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(here[: len(here) - node.level + 1] + ([base] if base else []))
                names |= {base} | {f"{base}.{a.name}" for a in node.names}
        found[module] = names
    return found


IMPORTS = _imports()


def _own(names: set[str]) -> set[str]:
    return {n for n in names if n.startswith("fashion_assets.")}


def test_core_imports_only_core_and_never_dagster():
    for module, names in IMPORTS.items():
        if module.startswith("fashion_assets.core"):
            assert not {n for n in names if n == "dagster" or n.startswith(("dagster.", "dagster_"))}, module
            assert all(n.startswith("fashion_assets.core") for n in _own(names)), (module, _own(names))


def test_the_demo_data_generator_imports_only_core():
    for module, names in IMPORTS.items():
        if module.startswith("fashion_assets.demo_data"):
            assert all(n.startswith(("fashion_assets.core", "fashion_assets.demo_data")) for n in _own(names)), module


def test_no_module_imports_a_command_line_tool():
    for module, names in IMPORTS.items():
        if not module.startswith("fashion_assets.cli"):
            assert not [n for n in _own(names) if n.startswith("fashion_assets.cli")], module


def test_the_run_machinery_imports_no_asset():
    for module, names in IMPORTS.items():
        if module.startswith("fashion_assets.runs"):
            assert not [n for n in _own(names) if n.startswith(("fashion_assets.assets", "fashion_assets.definitions"))], module


def test_dagster_s_private_api_is_used_in_one_module():
    users = {m for m, names in IMPORTS.items() if any(n.startswith("dagster._") for n in names)}
    assert users == {"fashion_assets.runs.internals"}


def test_an_asset_module_imports_only_the_conventions_of_the_asset_package():
    """A stage gets what another stage makes as an asset input, never by importing its module."""
    for module, names in IMPORTS.items():
        if module.startswith("fashion_assets.assets.") and module != "fashion_assets.assets.conventions":
            siblings = {n for n in _own(names) if n.startswith("fashion_assets.assets")}
            assert all(n.startswith("fashion_assets.assets.conventions") for n in siblings), (module, siblings)
    assert not {n for n in _own(IMPORTS["fashion_assets.assets.conventions"]) if n.startswith("fashion_assets.assets")}


SCREEN = 45  # lines of an asset body, after its signature and docstring


def test_every_asset_body_fits_a_screen():
    """An asset body reads its inputs, calls core, and turns the result into outputs, metadata and
    check results; whatever needs more lines belongs in core."""
    import inspect
    import textwrap

    import dagster as dg

    from fashion_assets.assets import ASSET_MODULES

    long = {}
    for asset in dg.load_assets_from_modules(ASSET_MODULES):
        if not isinstance(asset, dg.AssetsDefinition) or asset.node_def is None:
            continue
        fn = asset.op.compute_fn.decorated_fn
        node = ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]
        body = node.body[1:] if isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant) else node.body
        if node.end_lineno - body[0].lineno + 1 > SCREEN:
            long[f"{fn.__module__}.{fn.__name__}"] = node.end_lineno - body[0].lineno + 1
    assert not long, long
