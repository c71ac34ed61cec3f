"""Kept for instances set up before the run machinery moved to ``fashion_assets.runs``: their own
copy of dagster.yaml still names ``fashion_assets.launcher``. New instances name
``fashion_assets.runs.launcher`` (the repository's dagster.yaml)."""

from .runs.launcher import PreloadedRunLauncher

__all__ = ["PreloadedRunLauncher"]
