"""The one Definitions object of the project, built from the asset modules (no hand-kept lists)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from . import jobs, schedules, sensors
from .runs import dead_runs
from .console import console_logger
from .assets import ASSET_MODULES
from .io_managers import ArtifactIOManager, ArtifactStore, WarehouseIOManager, WarehouseResource
from .storage import storage_for
from .resources import (CatalogueResource, DataRootResource, ModelRegistryResource, SegmentationResource,
                        TorchDeviceResource, catalogue_root_from_env, data_root_from_env)

WAREHOUSE_SCHEMA = "fashion"


def build_definitions(data_root: str | Path, segmenter: SegmentationResource | None = None,
                      catalogue_root: str | Path | None = None,
                      executor: dg.ExecutorDefinition | None = None) -> dg.Definitions:
    """Definitions over one data root (tests build their own over a temporary folder).

    ``executor``: None = in-process (one Python process per run: a step costs no process start —
    about 9 s of imports each on the 2-core machine — and the heavy steps parallelise inside,
    with their own worker pools and torch threads; benchmarks/run_overhead.py measures both);
    definitions_k8s passes dagster-k8s's executor (a pod per step). The storage mode
    (fashion_assets.storage: embedded or cluster) chooses the warehouse and MLflow's store."""
    root = DataRootResource(root=str(data_root))
    artifacts, stores = str(root.artifacts), storage_for(root.path)
    return dg.Definitions(
        assets=dg.load_assets_from_modules(ASSET_MODULES),
        asset_checks=dg.load_asset_checks_from_modules(ASSET_MODULES),
        jobs=jobs.ALL_JOBS,
        sensors=[sensors.raw_data_sensor, sensors.incoming_photos_sensor, sensors.automation_sensor,
                 dead_runs.dead_run_sensor],
        schedules=schedules.ALL_SCHEDULES,
        executor=executor or dg.in_process_executor,
        loggers={"console": console_logger},
        resources={
            "data_root": root,
            "segmenter": segmenter or SegmentationResource(),
            "torch_device": TorchDeviceResource(),
            "catalogue": CatalogueResource(root=str(catalogue_root or root.path / "catalogue")),
            # Named warehouse.duckdb, not after the schema: DuckDB rejects a catalog and schema of one name.
            "io_manager": WarehouseIOManager(database=stores.warehouse, schema=WAREHOUSE_SCHEMA, artifact_root=artifacts),
            "warehouse": WarehouseResource(database=stores.warehouse, table_schema=WAREHOUSE_SCHEMA),
            "artifact_io_manager": ArtifactIOManager(root=artifacts),
            "artifact_store": ArtifactStore(root=artifacts),
            "model_registry": ModelRegistryResource(root=str(root.mlflow), tracking_uri=stores.tracking_uri),
        },
    )


defs = build_definitions(data_root_from_env(), catalogue_root=catalogue_root_from_env())
