"""Helpers that turn DataFrames into Dagster metadata (row counts, schema, markdown previews)."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from ..core.common.artifacts import content_version


def table_metadata(df: pd.DataFrame, preview_rows: int = 10) -> dict:
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


def markdown(df: pd.DataFrame) -> str:
    if df.empty:
        return "_(no rows)_"
    return df.to_markdown(index=False)


def quarantine_check(quarantine: pd.DataFrame, what: str, asset: str) -> dg.AssetCheckResult:
    """``<asset>_empty``: WARN when any file was quarantined, listing the rows (the first 200)."""
    return dg.AssetCheckResult(
        asset_key=asset, check_name=f"{asset}_empty", passed=quarantine.empty, severity=dg.AssetCheckSeverity.WARN,
        description=f"every {what} file was usable" if quarantine.empty else f"{len(quarantine)} {what} files quarantined",
        metadata={"quarantined": dg.MetadataValue.int(len(quarantine)),
                  "rows": dg.MetadataValue.md(markdown(quarantine.head(200)))})
