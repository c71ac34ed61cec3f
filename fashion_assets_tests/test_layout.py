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
