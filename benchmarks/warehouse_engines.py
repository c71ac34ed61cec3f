"""Benchmark: the two candidates for the cluster mode's warehouse, measured before choosing.

On one PostgreSQL server (started by make cluster-up's code in a temporary data root), the write
the image stage does — replace one partition's slice of a table (ROWS rows, 8 partitions), in one
transaction — and a read of the whole table into pandas:

- DuckLake (catalog in PostgreSQL, Parquet files in the data root) through the project's own
  ``warehouse.connect`` / ``warehouse.commit`` and the I/O manager's statement
  (``CREATE OR REPLACE … UNION ALL BY NAME``), conflicts retried;
- PostgreSQL tables through psycopg2: ``DELETE … WHERE partition = %s`` and ``COPY … FROM STDIN``
  (CSV) in one transaction.

Each: the 8 slices written one after another, then 4 writers at once (processes), then the read.
Usage: python benchmarks/warehouse_engines.py [--rows 20000]. Writes benchmarks/results/warehouse_engines.json.
"""

import argparse
import io
import json
import multiprocessing as mp
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

import pandas as pd  # noqa: E402

from fashion_assets.cli import cluster  # noqa: E402
from fashion_assets.core.common import warehouse  # noqa: E402
from fashion_assets.storage import storage_for  # noqa: E402

HERE = Path(__file__).resolve().parent
PARTITIONS = [f"{s}-{k}" for s in ("Train", "Validation") for k in range(4)]


def frame(partition: str, rows: int, version: int) -> pd.DataFrame:
    return pd.DataFrame({"partition": partition, "file_name": [f"{partition}-{i:06d}.jpg" for i in range(rows)],
                         "output": [f"/data/artifacts/segmented_images/{partition}/{i:06d}-abcdef.jpg" for i in range(rows)],
                         "white_ratio": [0.5 + (i % 100) / 400 for i in range(rows)], "version": version})


def lake_write(args) -> tuple[float, int]:
    database, partition, rows, version = args
    data = frame(partition, rows, version)
    start = time.monotonic()
    with warehouse.connect(database) as conn:
        conn.register("_f", data)
        exists = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'bench' "
                              "AND table_name = 'slices'").fetchone()[0]

        def body():
            if exists:
                conn.execute("CREATE OR REPLACE TABLE bench.slices AS SELECT * FROM bench.slices WHERE "
                             f"coalesce(NOT (partition IN ('{partition}')), true) UNION ALL BY NAME SELECT * FROM _f")
            else:
                conn.execute("CREATE OR REPLACE TABLE bench.slices AS SELECT * FROM _f")
        retries = warehouse.commit(database, conn, body)
    return time.monotonic() - start, retries


def pg_write(args) -> tuple[float, int]:
    import psycopg2

    conninfo, partition, rows, version = args
    data = frame(partition, rows, version)
    start = time.monotonic()
    buffer = io.StringIO()
    data.to_csv(buffer, index=False, header=False)
    buffer.seek(0)
    conn = psycopg2.connect(conninfo)
    try:
        with conn, conn.cursor() as cur:  # one transaction: commit at the end of the block
            cur.execute("DELETE FROM slices WHERE partition = %s", [partition])
            cur.copy_expert("COPY slices (partition, file_name, output, white_ratio, version) FROM STDIN WITH CSV", buffer)
    finally:
        conn.close()
    return time.monotonic() - start, 0


def measure(write, target, rows: int) -> dict:
    sequential = [write((target, p, rows, 0)) for p in PARTITIONS]
    start = time.monotonic()
    with mp.get_context("spawn").Pool(4) as pool:
        concurrent = pool.map(write, [(target, p, rows, 1) for p in PARTITIONS])
    wall = time.monotonic() - start
    return {"sequential_commit_s": round(sum(t for t, _ in sequential) / len(sequential), 3),
            "four_at_once_wall_s": round(wall, 2), "four_at_once_retries": sum(r for _, r in concurrent)}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=20000, help="rows per partition slice")
    a = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="engines-"))
    root.chmod(0o755)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = cluster.up(root, port=port)
    try:
        lake = storage_for(root, "cluster").warehouse
        with warehouse.connect(lake) as conn:
            conn.execute("CREATE SCHEMA IF NOT EXISTS bench")
        results = {"ducklake": measure(lake_write, lake, a.rows)}
        start = time.monotonic()
        with warehouse.connect(lake) as conn:
            rows = len(conn.execute("SELECT * FROM bench.slices").df())
        results["ducklake"]["read_all_s"], results["ducklake"]["rows"] = round(time.monotonic() - start, 3), rows

        import psycopg2

        conninfo = server.conninfo("warehouse")
        conn = psycopg2.connect(conninfo)
        with conn, conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS slices; CREATE TABLE slices (partition text, file_name text, output text, "
                        "white_ratio double precision, version bigint); CREATE INDEX ON slices (partition)")
        conn.close()
        results["postgres_tables"] = measure(pg_write, conninfo, a.rows)
        start = time.monotonic()
        conn = psycopg2.connect(conninfo)
        rows = len(pd.read_sql("SELECT * FROM slices", conn))
        conn.close()
        results["postgres_tables"]["read_all_s"] = round(time.monotonic() - start, 3)
        results["postgres_tables"]["rows"] = rows
    finally:
        cluster.down(root)
    out = {"benchmark": "warehouse_engines", "machine": machine_info(), "rows_per_slice": a.rows,
           "partitions": len(PARTITIONS), "results": results}
    (HERE / "results" / "warehouse_engines.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
