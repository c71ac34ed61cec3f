"""Run machinery: how runs start (PreloadedRunLauncher and its fork server) and what happens to
runs whose worker died. The only package that touches Dagster's private API, all of it through
``internals`` — the one module to update when Dagster changes. May import Dagster and
``core.common``; nothing here imports the assets.
"""
