"""What the daemon does with a sensor's run request, in a fresh process: import the project's
definitions (the code location), then execute the requested assets in-process with the
request's tags and run config. Prints the run id. Used by survey_refresh.py to time a run
including its process start.

Usage: python benchmarks/run_request.py '{"selection": [...], "tags": {...}, "config": {...}}'
(FASHION_ASSETS_DATA_ROOT and DAGSTER_HOME name the data root and the instance.)
"""

import json
import sys

import dagster as dg

from fashion_assets.definitions import defs


def main() -> int:
    request = json.loads(sys.argv[1])
    selection = [dg.AssetKey.from_user_string(k) for k in request["selection"]]
    with dg.DagsterInstance.get() as instance:
        run = dg.materialize(list(defs.assets), selection=selection, resources=defs.resources, instance=instance,
                             tags=request.get("tags") or {}, run_config=request.get("config") or {})
    print(json.dumps({"run_id": run.run_id, "success": run.success,
                      "heavy_modules_loaded": sorted({m.split(".")[0] for m in sys.modules} & {"torch", "sklearn"})}))
    return 0 if run.success else 1


if __name__ == "__main__":
    raise SystemExit(main())
