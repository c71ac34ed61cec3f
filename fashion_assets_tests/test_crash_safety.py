"""A writer killed at any moment leaves the old table or the new one — never an empty or half
table — and its run is then marked failed instead of staying started for ever."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import dagster as dg
import duckdb
import pytest

from fashion_assets.runs.dead_runs import dead_runs, fail_dead_runs

SIZES = (400_000, 900_000)  # alternate sizes: the row count says which write a table came from

# The writer: materializes a big table through the project's I/O manager, alternating sizes,
# until killed. With PAUSE set, it announces the moment between the write and the COMMIT and
# waits there, so that a kill can land exactly inside the transaction.
WRITER = textwrap.dedent("""
    import itertools, os, sys, time
    import dagster as dg, numpy as np, pandas as pd
    from fashion_assets import io_managers

    if os.environ.get("PAUSE"):
        class Pausing:
            def __init__(self, conn): self.conn = conn
            def __getattr__(self, name): return getattr(self.conn, name)
            def execute(self, sql, *args):
                if sql == "COMMIT":
                    print("before-commit", flush=True); time.sleep(30)
                return self.conn.execute(sql, *args)
        handle = io_managers.WarehouseTypeHandler.handle_output
        io_managers.WarehouseTypeHandler.handle_output = lambda self, ctx, sl, obj, conn: handle(self, ctx, sl, obj, Pausing(conn))

    class Rows(dg.Config):
        rows: int

    @dg.asset(name="big_table")
    def big_table(config: Rows) -> pd.DataFrame:
        return pd.DataFrame({"x": np.arange(config.rows), "s": np.full(config.rows, "row")})

    io = io_managers.WarehouseIOManager(database=sys.argv[1], schema="fashion")
    with dg.DagsterInstance.get() as instance:
        for i in itertools.count():
            rows = (%d, %d)[i %% 2]
            dg.materialize([big_table], instance=instance, resources={"io_manager": io},
                           run_config={"ops": {"big_table": {"config": {"rows": rows}}}})
            print("committed", rows, flush=True)
""" % SIZES)


def rows_in(db) -> int | None:
    with duckdb.connect(str(db), read_only=True) as con:
        found = con.execute("select count(*) from information_schema.tables where table_name = 'big_table'").fetchone()[0]
        return con.execute("select count(*) from fashion.big_table").fetchone()[0] if found else None


def start_writer(tmp_path, pause: bool) -> subprocess.Popen:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), **({"PAUSE": "1"} if pause else {})}
    return subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "w.duckdb")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


@pytest.fixture
def home(tmp_path):
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


def test_a_killed_writer_leaves_the_old_or_the_new_table_and_its_run_is_failed(tmp_path, home):
    rng = random.Random(0)
    history = []
    # Deterministic: killed between the new rows and the COMMIT — first before any table exists,
    # then over a committed one.
    for _ in range(2):
        before = rows_in(tmp_path / "w.duckdb") if (tmp_path / "w.duckdb").exists() else None
        writer = start_writer(tmp_path, pause=True)
        assert writer.stdout.readline().strip() == "before-commit"
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        after = rows_in(tmp_path / "w.duckdb")
        assert after == before, "a kill inside the transaction must leave the previous table"
        history.append(after)
        # Let one write commit so the next round replaces an existing table.
        writer = start_writer(tmp_path, pause=False)
        assert writer.stdout.readline().startswith("committed")
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    # At random moments: whatever was committed last, complete.
    for _ in range(5):
        writer = start_writer(tmp_path, pause=False)
        time.sleep(rng.uniform(3.0, 7.0))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        after = rows_in(tmp_path / "w.duckdb")
        assert after in SIZES, f"table has {after} rows after a kill"
        history.append(after)
    # The killed runs stayed STARTED; the dead-run check marks each failed with the reason.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        dead = dead_runs(instance)
        assert len(dead) >= 2  # the two killed inside a transaction, at least
        failed = fail_dead_runs(instance)
        assert set(failed) == {run.run_id for run, _ in dead}
        for run_id in failed:
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
        assert not dead_runs(instance)
        started = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        assert not started
