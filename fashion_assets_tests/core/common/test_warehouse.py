"""Opening the warehouse file: a busy file is waited for (bounded, logged), a file cut short is
refused at the first open with the remedy, a copied data root is re-rooted."""

import shutil
import subprocess
import sys
import time

import duckdb
import pytest

from fashion_assets.core.common import warehouse

HOLD = """
import sys, time, duckdb
c = duckdb.connect(sys.argv[1], config={"custom_user_agent": "dagster"})
print("held", flush=True)
time.sleep(float(sys.argv[2]))
c.close()
"""


def hold(database, seconds: float) -> subprocess.Popen:
    """Another process that holds the file's lock for ``seconds`` (a run of another command)."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(database), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def make(database, tables: int = 1, rows: int = 1000):
    with duckdb.connect(str(database)) as c:
        c.execute("CREATE SCHEMA IF NOT EXISTS fashion")
        for k in range(tables):
            c.execute(f"CREATE OR REPLACE TABLE fashion.t{k} AS SELECT range AS i, md5(range::VARCHAR) AS s FROM range({rows})")


def test_a_connection_waits_its_turn_while_another_process_holds_the_file(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    make(db)
    holder = hold(db, 2.0)
    said = []
    start = time.monotonic()
    with warehouse.connect(db, log=said.append) as c:  # plain duckdb.connect fails at once: "Could not set lock"
        waited = time.monotonic() - start
        assert c.execute("SELECT count(*) FROM fashion.t0").fetchone()[0] == 1000
    holder.wait()
    assert 1.0 < waited < 10
    assert f"PID {holder.pid}" in said[0] and "waiting for its turn" in said[0]
    assert said[-1].startswith("warehouse.duckdb: got its turn after")


def test_the_wait_is_bounded_and_names_the_holder(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    make(db)
    holder = hold(db, 5.0)
    try:
        with pytest.raises(warehouse.WarehouseError, match=rf"stayed locked by PID {holder.pid} \(.*\) for .* s, longer than the 0.5 s"):
            with warehouse.connect(db, wait_seconds=0.5):
                pass
    finally:
        holder.kill()


@pytest.mark.parametrize("fraction", [0.3, 0.5, 0.8])
def test_a_file_cut_short_is_refused_at_the_first_open_with_the_remedy(tmp_path, fraction):
    db = tmp_path / "warehouse.duckdb"
    make(db, tables=6, rows=200_000)
    size = db.stat().st_size
    with open(db, "r+b") as fh:
        fh.truncate(int(size * fraction))
    with pytest.raises(warehouse.WarehouseError, match=r"warehouse.duckdb is damaged .*restore it from a backup, or "
                                                       r"`make clean-data`"):
        with warehouse.connect(db):
            pass


def test_an_intact_file_is_not_called_damaged_after_many_replacements(tmp_path):
    """Free blocks at the end of the file are truncated by DuckDB itself: not damage."""
    db = tmp_path / "warehouse.duckdb"
    for rows in (300_000, 1000, 200_000, 10):
        make(db, tables=3, rows=rows)
        with warehouse.connect(db) as c:
            assert c.execute("SELECT count(*) FROM fashion.t2").fetchone()[0] == rows


def test_a_copied_warehouse_names_the_copy_s_files(tmp_path):
    original, copy = tmp_path / "a", tmp_path / "b"
    original.mkdir()
    db = original / "warehouse.duckdb"
    make(db)
    with warehouse.connect(db) as c:  # the first open records the data root
        c.execute("CREATE TABLE fashion.files AS SELECT ? || '/raw/x.jpg' AS path, 'elsewhere/raw' AS other, "
                  "? || 'suffix' AS not_under, 'cannot decode ' || ? || '/incoming/a.txt' AS reason",
                  [str(original), str(original), str(original)])
    shutil.copytree(original, copy)
    said = []
    with warehouse.connect(copy / "warehouse.duckdb", log=said.append) as c:
        assert c.execute("SELECT path, other, not_under, reason FROM fashion.files").fetchone() == (
            f"{copy}/raw/x.jpg", "elsewhere/raw", f"{original}suffix", f"cannot decode {copy}/incoming/a.txt")
    assert f"was written in {original}: 2 paths" in said[0]
    with warehouse.connect(db) as c:  # the original is untouched
        assert c.execute("SELECT path FROM fashion.files").fetchone()[0] == f"{original}/raw/x.jpg"
