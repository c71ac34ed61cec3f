"""Automation: the raw folders are observed, and what follows from them is materialized.

``raw_data_sensor`` fingerprints the raw folders every 30 s. When a listing changed — a file
added, removed, replaced or edited, whatever its mtime — it records a new data version of
``raw_images`` / ``raw_labels`` and requests **one run** (a run key unique to that change) of
every asset that follows the source through automated assets: the tables, the image stage, the
features and the predictions; training is left to the user (the classifier is marked unsynced
instead). A folder with entries younger than the settle time (perhaps still being written) is
looked at again on the next tick.

The run is requested by the sensor rather than left to the assets' eager conditions because
Dagster 1.13 orders a condition's trigger and reset by materialization timestamps only: a source
observed after a refresh was requested but before the next automation tick would be dropped.
``automation_sensor`` still evaluates those conditions for changes made by hand (a re-run in the
UI, a retrained classifier).
"""

import json

import dagster as dg

from .assets import ASSET_MODULES
from .assets.images import IMAGE_RUN_TAGS
from .assets.new_photos import incoming_batches
from .assets.sources import LISTING_TAG, RAW_FOLDERS, keep_listing, observe_raw
from .core.new_photos import batches, file_loose_photos
from .jobs import new_photos_job
from .resources import DataRootResource

SETTLE_SECONDS = 10.0
DATA_VERSION_TAG = "dagster/data_version"


def following(assets: list, source: str) -> list[dg.AssetKey]:
    """The assets a change of ``source`` flows to: its children, and theirs, through assets that
    carry an automation condition (an asset without one — training — stops the flow)."""
    specs = [spec for a in assets if isinstance(a, dg.AssetsDefinition) for spec in a.specs]
    children: dict[dg.AssetKey, list[dg.AssetKey]] = {}
    for spec in specs:
        for dep in spec.deps:
            children.setdefault(dep.asset_key, []).append(spec.key)
    automated = {spec.key for spec in specs if spec.automation_condition is not None}
    todo, seen = list(children.get(dg.AssetKey(source), [])), set()
    while todo:
        key = todo.pop()
        if key in seen or key not in automated:
            continue
        seen.add(key)
        todo += children.get(key, [])
    return sorted(seen, key=lambda k: k.to_user_string())


FOLLOWING = {source: following(dg.load_assets_from_modules(ASSET_MODULES), source) for source in RAW_FOLDERS}
_PARTITIONED = {k for k in FOLLOWING["raw_images"] if k.path[-1] in ("segmented_images", "segmentation_quarantine",
                                                                      "cropped_images", "crop_quarantine")}


def _recorded_version(context: dg.SensorEvaluationContext, source: str) -> str | None:
    """The source's data version the instance last recorded (a sensor restarted without its
    cursor, e.g. after a reset, does not report an unchanged folder again)."""
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:  # evaluated without an instance (unit tests)
        return None
    record = instance.get_latest_data_version_record(dg.AssetKey(source), True)
    return record.event_log_entry.tags.get(DATA_VERSION_TAG) if record else None


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.STOPPED,
           target=dg.AssetSelection.assets(*{k for keys in FOLLOWING.values() for k in keys}),
           description="Observes the raw image and survey folders; a changed listing (new, removed, replaced or edited "
                       "files) becomes a new data version of raw_images / raw_labels and one run of what follows from it.")
def raw_data_sensor(context: dg.SensorEvaluationContext, data_root: DataRootResource) -> dg.SensorResult:
    # The cursor: one digest per source and a change counter — small however many files there are.
    cursor = json.loads(context.cursor) if context.cursor else {}
    events, runs, waiting = [], [], []
    for source in RAW_FOLDERS:
        listing = observe_raw(data_root, source, SETTLE_SECONDS)
        known = cursor.get(source) or _recorded_version(context, source)
        if listing.unsettled:
            waiting.append(f"{source}: {listing.unsettled} entries modified in the last {SETTLE_SECONDS:.0f} s")
            continue
        if listing.digest == known:
            continue
        cursor[source], cursor["changes"] = listing.digest, cursor.get("changes", 0) + 1
        events.append(dg.AssetObservation(asset_key=source, tags={DATA_VERSION_TAG: listing.digest},
                                          metadata={"entries": listing.entries}))
        selection = FOLLOWING[source]
        partitioned = any(k in _PARTITIONED for k in selection)
        tags = {**(IMAGE_RUN_TAGS if partitioned else {}), "fashion_assets/change": source}
        if source == "raw_labels":  # 250k survey files: the run parses from this listing instead of listing again
            keep_listing(data_root, source, listing)
            tags[LISTING_TAG] = listing.digest
        runs.append(dg.RunRequest(run_key=f"{source}-{cursor['changes']}-{listing.digest[:16]}", asset_selection=selection,
                                  tags=tags))
        context.log.info(f"{source} changed: {listing.entries} entries, data version {listing.digest[:12]}; "
                         f"requesting {len(selection)} assets")
    if not events:
        return dg.SensorResult(skip_reason="; ".join(waiting) or "no change in the raw folders", cursor=json.dumps(cursor))
    return dg.SensorResult(asset_events=events, run_requests=runs, cursor=json.dumps(cursor))


def known_batches(context) -> set[str]:
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:  # evaluated without an instance (unit tests)
        return set()
    return set(instance.get_dynamic_partitions(incoming_batches.name))


@dg.sensor(job=new_photos_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.STOPPED,
           description="Files photos dropped loose into <data root>/incoming into a batch folder; every new or changed "
                       "batch folder becomes a partition of the new-photo assets and one run of new_photos_job.")
def incoming_photos_sensor(context: dg.SensorEvaluationContext, data_root: DataRootResource) -> dg.SensorResult:
    batch, moved = file_loose_photos(data_root.incoming, SETTLE_SECONDS)
    if batch:
        context.log.info(f"filed {moved} loose photos of {data_root.incoming} into the batch folder {batch}")
    found, unusable = batches(data_root.incoming, SETTLE_SECONDS)
    for problem in unusable:
        context.log.warning(f"incoming/{problem}: skipped (rename the folder)")
    cursor, known = json.loads(context.cursor) if context.cursor else {}, known_batches(context)
    added, runs, waiting = [], [], []
    for b in found:
        if b.unsettled or not b.files:
            waiting.append(f"{b.name}: " + (f"{b.unsettled} files modified in the last {SETTLE_SECONDS:.0f} s"
                                            if b.unsettled else "empty"))
            continue
        if cursor.get(b.name) == b.digest and b.name in known:
            continue
        added += [] if b.name in known else [b.name]
        cursor[b.name] = b.digest
        runs.append(dg.RunRequest(partition_key=b.name, run_key=f"{b.name}-{b.digest[:16]}",
                                  tags={"fashion_assets/change": "incoming"}))
        context.log.info(f"batch {b.name}: {b.files} files, " + ("new" if b.name not in known else "changed"))
    cursor = {name: digest for name, digest in cursor.items() if name in {b.name for b in found}}
    if not runs:
        return dg.SensorResult(skip_reason="; ".join(waiting + unusable) or "no new or changed batch in incoming/",
                               cursor=json.dumps(cursor))
    return dg.SensorResult(run_requests=runs, cursor=json.dumps(cursor),
                           dynamic_partitions_requests=[incoming_batches.build_add_request(added)] if added else [])


automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation_sensor", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.STOPPED,
    description="Materializes what the assets' automation conditions ask for after changes made by hand (a re-run in "
                "the UI, a retrained classifier); the raw folders' changes are requested by raw_data_sensor.")
