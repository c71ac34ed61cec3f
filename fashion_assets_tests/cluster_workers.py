"""Worker processes for the cluster-mode tests, each as a pod would be: its own Python process,
the project's own I/O manager or registry, nothing shared with the test but the server and the folder.

  python -m fashion_assets_tests.cluster_workers slices ROOT PARTITION ITERATIONS [ROWS]
      materialize partition PARTITION of a partitioned table ITERATIONS times (0: until killed),
      iteration i writing ROWS rows whose ``version`` is i; prints "retries N" at the end
  python -m fashion_assets_tests.cluster_workers register ROOT NAME START_AT
      at the time START_AT, log a training run and register a version of NAME, then make it champion
"""


import itertools
import sys
import time
from pathlib import Path

import dagster as dg
import pandas as pd

PARTITIONS = dg.StaticPartitionsDefinition(["a", "b", "c", "d"])


@dg.asset(partitions_def=PARTITIONS, metadata={"partition_expr": "partition"}, config_schema={"version": int, "rows": int})
def slices(context: dg.AssetExecutionContext) -> pd.DataFrame:
    rows = context.op_config["rows"]
    return pd.DataFrame({"partition": context.partition_key, "version": context.op_config["version"],
                         "row": range(rows), "text": [f"{context.partition_key}-{i}" for i in range(rows)]})


def _slices(root: Path, partition: str, iterations: int, rows: int) -> int:
    from fashion_assets.definitions import WAREHOUSE_SCHEMA
    from fashion_assets.io_managers import WarehouseIOManager
    from fashion_assets.storage import storage_for

    io_manager = WarehouseIOManager(database=storage_for(root).warehouse, schema=WAREHOUSE_SCHEMA)
    retries = 0
    for i in (itertools.count() if iterations == 0 else range(iterations)):
        result = dg.materialize([slices], partition_key=partition, resources={"io_manager": io_manager},
                                run_config={"ops": {"slices": {"config": {"version": i, "rows": rows}}}})
        assert result.success
        (event,) = result.get_asset_materialization_events()
        retries += event.materialization.metadata.get("commit_retries", dg.IntMetadataValue(0)).value
        print(f"committed {i}", flush=True)
    print(f"retries {retries}", flush=True)
    return 0


def _register(root: Path, name: str, start_at: float) -> int:
    from fashion_assets.core.registry import Registry
    from fashion_assets.storage import storage_for

    registry = Registry(root / "mlflow", storage_for(root).tracking_uri)
    checkpoint = root / f"{name}-{start_at}-{time.time_ns()}.pt"
    checkpoint.write_bytes(b"not a real model: the registry stores the file as it is")
    registry.client()  # connected (and MLflow's tables created) before the start signal
    time.sleep(max(start_at - time.time(), 0.0))
    version = registry.log_training(name, checkpoint, {"lr": 0.1}, [{"epoch": 1, "loss": 0.5}], {"accuracy": 0.5},
                                    [], {"writer": str(checkpoint.name)})
    registry.set_champion(name, version.version)
    print(f"version {version.version}", flush=True)
    return 0


def main(argv: list[str]) -> int:
    command, root = argv[0], Path(argv[1])
    if command == "slices":
        return _slices(root, argv[2], int(argv[3]), int(argv[4]) if len(argv) > 4 else 2000)
    if command == "register":
        return _register(root, argv[2], float(argv[3]))
    raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
