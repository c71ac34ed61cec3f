"""The one Definitions object of the project: assets, checks, jobs and resources."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from .assets.classifier import classifier_assets, classifier_checks
from .assets.images import image_assets, image_checks
from .assets.preferences import preference_assets
from .assets.product_models import product_model_assets
from .assets.products import product_assets, product_checks
from .assets.tables import table_assets, table_checks
from .jobs import all_jobs
from .schedules import nightly_preference_chain
from .sensors import survey_arrival_sensor
from .warehouse import WarehouseIOManager
from .resources import (CatalogueResource, DataRootResource, SegmentationResource, TorchDeviceResource,
                        catalogue_root_from_env, data_root_from_env)

WAREHOUSE_SCHEMA = "fashion"


def build_definitions(data_root: str | Path, segmenter: SegmentationResource | None = None,
                      catalogue_root: str | Path | None = None,
                      executor: dg.ExecutorDefinition | None = None) -> dg.Definitions:
    """Definitions over one data root (tests build their own over a temporary folder).
    ``executor``: None = Dagster's multiprocess executor; definitions_k8s passes dagster-k8s's."""
    root = DataRootResource(root=str(data_root))
    return dg.Definitions(
        assets=[*table_assets, *image_assets, *classifier_assets, *preference_assets, *product_assets, *product_model_assets],
        asset_checks=[*table_checks, *image_checks, *classifier_checks, *product_checks],
        jobs=all_jobs,
        schedules=[nightly_preference_chain],
        sensors=[survey_arrival_sensor],
        executor=executor,
        resources={
            "data_root": root,
            "segmenter": segmenter or SegmentationResource(),
            "torch_device": TorchDeviceResource(),
            "catalogue": CatalogueResource(root=str(catalogue_root or root.path / "catalogue")),
            # Named warehouse.duckdb, not after the schema: DuckDB rejects a catalog and schema of one name.
            "io_manager": WarehouseIOManager(database=str(root.warehouse), schema=WAREHOUSE_SCHEMA),
        },
    )


defs = build_definitions(data_root_from_env(), catalogue_root=catalogue_root_from_env())
