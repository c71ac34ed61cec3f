"""The project's definitions with Dagster's multiprocess executor (a process per step), for
benchmarks/run_overhead.py to compare with the in-process default."""

import dagster as dg

from fashion_assets.definitions import build_definitions
from fashion_assets.resources import catalogue_root_from_env, data_root_from_env

defs = build_definitions(data_root_from_env(), catalogue_root=catalogue_root_from_env(), executor=dg.multiprocess_executor)
