"""The conventions every asset module shares, in one place: group names, automation conditions,
GPU tags, I/O manager keys, registered model names, table metadata and outputs, the quarantine
check, worker settings, and registering a trained model behind its gate.

This is the only module an asset module imports from ``fashion_assets.assets``; everything a
stage needs from another stage arrives as an asset input (Dagster resolves it by key), never as
an import of that stage's module (``fashion_assets_tests/test_layout.py`` keeps the rule).
"""

from __future__ import annotations

import os

import dagster as dg
import pandas as pd
from pydantic import Field

from ..core.common.artifacts import content_version
from ..core.registry import STYLE_MODEL  # noqa: F401 (a convention of the assets, set in the registry)

# Asset groups, one per stage (the web UI's lineage is drawn by group).
TABLES, IMAGES, CLASSIFIER, PREFERENCES, CATALOGUE, NEW_PHOTOS = (
    "tables", "images", "classifier", "preferences", "catalogue", "new_photos")

# Assets that follow new data when automation is on (each is incremental or cheap). Training
# has none: it is marked unsynced when its inputs change and is left to the user.
EAGER = dg.AutomationCondition.eager()
# GPU steps run one at a time (pool "gpu") and ask Kubernetes for a GPU when run there.
GPU_POOL = "gpu"
GPU_TAGS = {"dagster-k8s/config": {"container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"}}}}}
ARTIFACT = "artifact_io_manager"  # the I/O manager of files (checkpoints, matrices): outputs are handles
PARTITIONED_TABLE = {"partition_expr": "partition"}  # a table whose rows carry their partition key
# A run's tag: the data version whose raw-folder listing raw_data_sensor kept for it.
LISTING_TAG = "fashion_assets/listing"


def markdown(df: pd.DataFrame) -> str:
    if df.empty:
        return "_(no rows)_"
    return df.to_markdown(index=False)


def table_metadata(df: pd.DataFrame, preview_rows: int = 10) -> dict:
    """Row count, column schema and a markdown preview of the first rows."""
    return {
        "dagster/row_count": dg.MetadataValue.int(len(df)),
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name=str(c), type=str(t)) for c, t in df.dtypes.items()]),
        "preview": dg.MetadataValue.md(markdown(df.head(preview_rows))),
    }


def table_output(df: pd.DataFrame, preview_rows: int = 10, output_name: str = "result", **metadata) -> dg.Output:
    """A table output whose data version is a hash of its content: a rerun that produces the
    same rows leaves everything downstream fresh; different rows mark it stale in the UI."""
    return dg.Output(df, output_name, data_version=dg.DataVersion(content_version(df)),
                     metadata={**table_metadata(df, preview_rows), **metadata})


def quarantine_check(quarantine: pd.DataFrame, what: str, asset: str, check_name: str | None = None,
                     all_usable: str | None = None) -> dg.AssetCheckResult:
    """``<asset>_empty`` (or ``check_name``): WARN when any file was quarantined, listing the
    rows (the first 200); ``all_usable`` is the description when none was."""
    return dg.AssetCheckResult(
        asset_key=asset, check_name=check_name or f"{asset}_empty", passed=quarantine.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=(all_usable or f"every {what} file was usable") if quarantine.empty
        else f"{len(quarantine)} {what} files quarantined",
        metadata={"quarantined": dg.MetadataValue.int(len(quarantine)),
                  "rows": dg.MetadataValue.md(markdown(quarantine.head(200)))})


class WorkersConfig(dg.Config):
    workers: int = Field(default=0, ge=0, description="Worker processes (one model session each); 0 = one per core.")


def workers_or_cores(workers: int) -> int:
    """A workers setting, 0 meaning one per core."""
    return workers or os.cpu_count() or 1


def register_and_gate(context: dg.AssetExecutionContext, registry, name: str, model_path, params: dict,
                      history: list[dict], metrics: dict, files: list, inputs_version: str, passed: bool, gate: str,
                      tags: dict | None = None, stays: str | None = None):
    """Track a trained model in MLflow and register it as a version of ``name`` (tagged with the
    run, its inputs' version and ``tags``); the champion alias moves to it only when its gate
    ``passed`` and no reason for the champion to stay (``stays``) is given. Returns the
    registered version."""
    registered = registry.log_training(name, model_path, params, history, metrics, files, tags={
        "dagster_run_id": context.run_id, "inputs_version": inputs_version,
        "dagster_asset": context.asset_key.to_user_string(), **(tags or {})})
    if passed and not stays:
        registry.set_champion(name, registered.version)
        context.log.info(f"registered {name} version {registered.version}; it is the champion now")
    else:
        previous = registry.champion(name)
        why = f"it failed {gate}" if not passed else stays
        context.log.warning(f"registered {name} version {registered.version}; {why}, so the champion "
                            f"stays {'unset' if previous is None else f'version {previous.version}'}")
    return registered


def registered_metadata(registered, passed: bool) -> dict:
    """What a training asset's materialization says about its registered version."""
    return {"mlflow_run": dg.MetadataValue.url(registered.run_url()),
            "registered_version": dg.MetadataValue.int(registered.version),
            "champion": dg.MetadataValue.bool(passed)}
