"""Predict for the new photos in ``<data root>/incoming/`` now, without the sensor.

    python -m fashion_assets.cli.photos            # file loose photos into a batch, run every batch not yet predicted
    python -m fashion_assets.cli.photos BATCH ...  # run these batches again (e.g. after adding photos to one)

Each batch is registered as a partition of the new-photo assets (as the sensor does) and
materialized in this process through ``new_photos_job``; the runs show in the web UI.
"""

from __future__ import annotations

import argparse
import sys

import dagster as dg

from ..core.new_photos.batches import batches, file_loose_photos


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("batches", nargs="*", help="batch folders to run (default: every batch without predictions)")
    args = parser.parse_args(argv)

    from ..core.registry import STYLE_MODEL
    from ..assets.new_photos import incoming_batches
    from ..core.registry import champion_drift
    from ..definitions import defs

    incoming = defs.resources["data_root"].incoming
    batch, moved = file_loose_photos(incoming)  # all of them, whatever their mtimes: asked for now
    if batch:
        print(f"filed {moved} loose photos into {incoming / batch}")
    found, unusable = batches(incoming)
    for problem in unusable:
        print(f"skipped incoming/{problem}", file=sys.stderr)
    names = {b.name for b in found if b.files}
    unknown = sorted(set(args.batches) - names)
    if unknown:
        print(f"no batch folder with photos in {incoming} named {', '.join(unknown)}; there are: "
              f"{', '.join(sorted(names)) or 'none'}", file=sys.stderr)
        return 2
    with dg.DagsterInstance.get() as instance:
        # Predicted: materialized, and its rows still in the warehouse (the instance's records
        # outlive `make clean-data`).
        done = (set(instance.get_materialized_partitions(dg.AssetKey("incoming_predictions")))
                & defs.resources["warehouse"].stored_partitions("incoming_predictions"))
        todo = sorted(args.batches) or sorted(names - done)
        if not todo:
            print(f"every batch in {incoming} has predictions (name one to run it again); drop photos into {incoming}")
            return 0
        onnx = defs.resources["artifact_io_manager"].stored(dg.AssetKey("classifier_onnx"))
        drift = onnx and champion_drift(defs.resources["model_registry"].registry(), STYLE_MODEL,
                                        onnx.settings["classifier_version"])
        if drift:
            print(f"warning: {drift}", file=sys.stderr)
        instance.add_dynamic_partitions(incoming_batches.name, todo)
        job = defs.resolve_job_def("new_photos_job")
        failed = []
        for key in todo:
            result = job.execute_in_process(partition_key=key, instance=instance, raise_on_error=False)
            if not result.success:
                failed.append(key)
                continue
            meta = result.asset_materializations_for_node("incoming_predictions")[0].metadata
            print(f"{key}: {meta['photos'].value} photos, {meta['quarantined'].value} quarantined; "
                  f"contact sheet {meta['contact_sheet'].value}")
    if failed:
        print(f"failed: {', '.join(failed)} (the run's log in the web UI says why)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
