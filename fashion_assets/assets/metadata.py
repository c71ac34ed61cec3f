"""Helpers that turn DataFrames into Dagster metadata (row counts, schema, markdown previews)."""

from __future__ import annotations

import dagster as dg
import pandas as pd


def table_metadata(df: pd.DataFrame, preview_rows: int = 10) -> dict:
    return {
        "dagster/row_count": dg.MetadataValue.int(len(df)),
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name=str(c), type=str(t)) for c, t in df.dtypes.items()]),
        "preview": dg.MetadataValue.md(markdown(df.head(preview_rows))),
    }


def markdown(df: pd.DataFrame) -> str:
    if df.empty:
        return "_(no rows)_"
    return df.to_markdown(index=False)


def quarantine_check(quarantine: pd.DataFrame, what: str) -> dg.AssetCheckResult:
    """WARN when any file was quarantined, listing the rows (the first 200)."""
    return dg.AssetCheckResult(
        passed=quarantine.empty, severity=dg.AssetCheckSeverity.WARN,
        description=f"every {what} file was usable" if quarantine.empty else f"{len(quarantine)} {what} files quarantined",
        metadata={"quarantined": dg.MetadataValue.int(len(quarantine)),
                  "rows": dg.MetadataValue.md(markdown(quarantine.head(200)))})
