"""The warehouse I/O manager's two ways around a large table: a TableChange (rows deleted and
inserted in one transaction instead of a rewrite) and a StoredTable input (a reference to query)."""

import dagster as dg
import pandas as pd

from fashion_assets.io_managers import StoredTable, TableChange, WarehouseIOManager


def _rows(*keys):
    return pd.DataFrame({"split": [k[0] for k in keys], "file_name": [k[1] for k in keys],
                         "value": [len(k[1]) for k in keys]})


def test_a_table_change_is_an_upsert_and_consumers_can_query_a_reference(tmp_path):
    state = {}

    @dg.asset
    def table() -> TableChange:
        return state["change"]

    @dg.asset
    def reader(table: StoredTable) -> pd.DataFrame:
        return table.query("SELECT split, count(*) AS n FROM {table} WHERE file_name IN (SELECT name FROM wanted) "
                           "GROUP BY split ORDER BY split", wanted=pd.DataFrame({"name": ["a", "bb"]}))

    io = WarehouseIOManager(database=str(tmp_path / "w.duckdb"), schema="s")

    def apply(change, select=("table",)):
        state["change"] = change
        result = dg.materialize([table, reader], resources={"io_manager": io}, selection=list(select))
        assert result.success
        return result

    def stored():
        return _read(tmp_path)

    apply(TableChange(_rows(("T", "a"), ("T", "bb"), ("V", "a")), key=("split", "file_name"), replace=True))
    change = TableChange(_rows(("V", "ccc")), remove=_rows(("T", "bb"))[["split", "file_name"]], key=("split", "file_name"))
    apply(change)
    apply(change)  # the same change again (or from an overlapping run): still one row per key
    assert sorted(map(tuple, stored()[["split", "file_name"]].to_numpy())) == [("T", "a"), ("V", "a"), ("V", "ccc")]
    # An edited row replaces its old version.
    apply(TableChange(_rows(("V", "a")).assign(value=99), key=("split", "file_name")))
    assert stored().set_index(["split", "file_name"]).loc[("V", "a"), "value"] == 99 and len(stored()) == 3
    result = apply(TableChange(_rows(), key=("split", "file_name")), select=("table", "reader"))
    assert result.output_for_node("reader").to_dict("records") == [{"split": "T", "n": 1}, {"split": "V", "n": 1}]


def _read(root) -> pd.DataFrame:
    import duckdb

    with duckdb.connect(str(root / "w.duckdb")) as conn:
        return conn.execute("SELECT * FROM s.table").df()
