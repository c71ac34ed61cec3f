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
from .assets.images import IMAGE_RUN_TAGS, image_partitions
from .assets.sources import RAW_FOLDERS, observe_raw
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
        runs.append(dg.RunRequest(run_key=f"{source}-{cursor['changes']}-{listing.digest[:16]}", asset_selection=selection,
                                  tags={**(IMAGE_RUN_TAGS if partitioned else {}), "fashion_assets/change": source}))
        context.log.info(f"{source} changed: {listing.entries} entries, data version {listing.digest[:12]}; "
                         f"requesting {len(selection)} assets")
    if not events:
        return dg.SensorResult(skip_reason="; ".join(waiting) or "no change in the raw folders", cursor=json.dumps(cursor))
    return dg.SensorResult(asset_events=events, run_requests=runs, cursor=json.dumps(cursor))


automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation_sensor", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.STOPPED,
    description="Materializes what the assets' automation conditions ask for after changes made by hand (a re-run in "
                "the UI, a retrained classifier); the raw folders' changes are requested by raw_data_sensor.")
