"""The DuckDB I/O manager for every table asset, with one fix over the stock pandas handler.

The stock handler skips empty DataFrames (so an empty quarantine table can never be read back)
and appends into the existing table (so adding a column breaks the next run). Unpartitioned
outputs are therefore written with CREATE OR REPLACE; partitioned outputs keep the stock
delete-slice-and-insert behaviour.
"""

import dagster as dg
import pandas as pd
from dagster_duckdb_pandas import DuckDBPandasIOManager, DuckDBPandasTypeHandler


class WarehouseTypeHandler(DuckDBPandasTypeHandler):
    def handle_output(self, context: dg.OutputContext, table_slice, obj: pd.DataFrame, connection):
        if context.has_partition_key:
            return super().handle_output(context, table_slice, obj, connection)
        connection.register("_output_frame", obj)
        try:
            connection.execute(f"create or replace table {table_slice.schema}.{table_slice.table} "
                               "as select * from _output_frame")
        finally:
            connection.unregister("_output_frame")
        context.add_output_metadata({
            "dagster/row_count": dg.MetadataValue.int(len(obj)),
            "dagster/storage_kind": "duckdb",
        })


class WarehouseIOManager(DuckDBPandasIOManager):
    """DuckDBPandasIOManager with :class:`WarehouseTypeHandler`."""

    @staticmethod
    def type_handlers():
        return [WarehouseTypeHandler()]
