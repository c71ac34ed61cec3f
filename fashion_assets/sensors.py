"""Automation: the raw folders are observed, and what follows from them is materialized.

``raw_data_sensor`` looks at the raw folders on every tick of the daemon (every 5 s: a stat of
each folder; the full listing when a folder changed, and at least every 30 s for edits in
place). When a listing changed — a file added, removed, replaced or edited, whatever its mtime —
and the next tick's listing is the same (the folder has settled: nothing is still being
copied; file times are never compared with the clock, so a future-dated file counts like any
other), it records a new data version of ``raw_images`` / ``raw_labels`` and requests **one
run** (a run key unique to that change) of every asset that follows the source through
automated assets: the tables, the image stage, the features and the predictions; training is
left to the user (the classifier is marked unsynced instead).

The run is requested by the sensor rather than left to the assets' eager conditions because
Dagster 1.13 orders a condition's trigger and reset by materialization timestamps only: a source
observed after a refresh was requested but before the next automation tick would be dropped.
``automation_sensor`` still evaluates those conditions for changes made by hand (a re-run in the
UI, a retrained classifier).
"""

import json
import time

import dagster as dg

from .assets import ASSET_MODULES
from .assets.images import IMAGE_RUN_TAGS
from .assets.new_photos import incoming_batches
from .assets.conventions import LISTING_TAG
from .assets.sources import RAW_SOURCES
from .core.new_photos.batches import batches, file_loose_photos, loose_photos
from .core.common.settling import Watch, look
from .jobs import new_photos_job
from .resources import DataRootResource

# The daemon's sensor loop runs every 5 s; a minimum interval of 5 s would alias with it (a tick
# 4.99 s after the last is skipped: every 10 s in practice), so the loop alone paces these sensors.
# A tick that finds no folder changed costs a stat per folder.
TICK_SECONDS = 1
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


FOLLOWING = {source: following(dg.load_assets_from_modules(ASSET_MODULES), source) for source in RAW_SOURCES}
_PARTITIONED = {k for k in FOLLOWING["raw_images"] if k.path[-1] in ("segmented_images", "segmentation_quarantine",
                                                                      "cropped_images", "crop_quarantine")}


CHANGE_TAG = "fashion_assets/change"  # on every run a change of a raw source asked for: which source


def refresh_request(data_root: DataRootResource, source: str, listing, run_key: str,
                    observe: bool = False) -> dg.RunRequest:
    """The run that brings what follows ``source`` up to date with ``listing`` (its fingerprint
    now): ``FOLLOWING[source]``, the image partitions all in one run; for the survey folders the
    listing is kept for ``label_files`` to parse from. ``observe``: the run also observes the
    source itself first (the schedule's runs: no sensor recorded the new data version)."""
    selection = ([dg.AssetKey(source)] if observe else []) + FOLLOWING[source]
    partitioned = any(k in _PARTITIONED for k in selection)
    tags = {**(IMAGE_RUN_TAGS if partitioned else {}), CHANGE_TAG: source}
    if source == "raw_labels":  # 250k survey files: the run parses from this listing instead of listing again
        data_root.keep_listing(source, listing)
        tags[LISTING_TAG] = listing.digest
    return dg.RunRequest(run_key=run_key, asset_selection=selection, tags=tags)


def _recorded_version(context: dg.SensorEvaluationContext, source: str) -> str | None:
    """The source's data version the instance last recorded (a sensor restarted without its
    cursor, e.g. after a reset, does not report an unchanged folder again)."""
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:  # evaluated without an instance (unit tests)
        return None
    record = instance.get_latest_data_version_record(dg.AssetKey(source), True)
    return record.event_log_entry.tags.get(DATA_VERSION_TAG) if record else None


@dg.sensor(minimum_interval_seconds=TICK_SECONDS, default_status=dg.DefaultSensorStatus.STOPPED,
           target=dg.AssetSelection.assets(*{k for keys in FOLLOWING.values() for k in keys}),
           description="Observes the raw image and survey folders; a changed listing (new, removed, replaced or edited "
                       "files) that is the same at the next tick becomes a new data version of raw_images / raw_labels "
                       "and one run of what follows from it.")
def raw_data_sensor(context: dg.SensorEvaluationContext, data_root: DataRootResource) -> dg.SensorResult:
    # The cursor: per source a few digests and times, and a change counter — small however many files there are.
    cursor = json.loads(context.cursor) if context.cursor else {}
    events, runs, waiting = [], [], []
    for source in RAW_SOURCES:
        watch = Watch.from_cursor(cursor.get(source))
        if watch.recorded is None:
            watch.recorded = _recorded_version(context, source)
        seen = look(watch, data_root.raw_folders(source), time.time())
        cursor[source] = watch.to_cursor()
        if not seen.changed:
            if seen.why != "unchanged":
                waiting.append(f"{source}: {seen.why}")
            continue
        listing = seen.listing
        cursor["changes"] = cursor.get("changes", 0) + 1
        events.append(dg.AssetObservation(asset_key=source, tags={DATA_VERSION_TAG: listing.digest},
                                          metadata={"entries": listing.entries}))
        runs.append(refresh_request(data_root, source, listing, f"{source}-{cursor['changes']}-{listing.digest[:16]}"))
        context.log.info(f"{source} changed ({seen.why}): {listing.entries} entries, data version "
                         f"{listing.digest[:12]}; requesting {len(FOLLOWING[source])} assets")
    if not events:
        return dg.SensorResult(skip_reason="; ".join(waiting) or "no change in the raw folders", cursor=json.dumps(cursor))
    return dg.SensorResult(asset_events=events, run_requests=runs, cursor=json.dumps(cursor))


def known_batches(context) -> set[str]:
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:  # evaluated without an instance (unit tests)
        return set()
    return set(instance.get_dynamic_partitions(incoming_batches.name))


@dg.sensor(job=new_photos_job, minimum_interval_seconds=TICK_SECONDS, default_status=dg.DefaultSensorStatus.STOPPED,
           description="Files photos dropped loose into <data root>/incoming into a batch folder once they stopped "
                       "changing; every new or changed batch folder becomes a partition of the new-photo assets and "
                       "one run of new_photos_job.")
def incoming_photos_sensor(context: dg.SensorEvaluationContext, data_root: DataRootResource) -> dg.SensorResult:
    # The cursor: batches' digests as last requested and as last seen, and the loose files as last
    # seen. A photo (or a batch) is acted on once it looks the same at two ticks, whatever its mtime.
    cursor = json.loads(context.cursor) if context.cursor else {}
    if "requested" not in cursor:  # older code's cursor: {batch: digest requested}
        cursor = {"requested": cursor}
    requested, seen, seen_loose = cursor.get("requested", {}), cursor.get("seen", {}), cursor.get("loose", {})
    loose = {name: list(signature) for name, signature in loose_photos(data_root.incoming).items()}
    ready = [name for name, signature in loose.items() if seen_loose.get(name) == signature]
    batch, moved = file_loose_photos(data_root.incoming, ready) if ready else (None, 0)
    if batch:
        context.log.info(f"filed {moved} loose photos of {data_root.incoming} into the batch folder {batch}")
    waiting = [f"{len(loose) - len(ready)} loose photos changed since the last tick: filed once they stop changing"
               ] if len(loose) > len(ready) else []
    found, unusable = batches(data_root.incoming)
    for problem in unusable:
        context.log.warning(f"incoming/{problem}: skipped (rename the folder)")
    known = known_batches(context)
    added, runs = [], []
    for b in found:
        settled = seen.get(b.name) == b.digest or b.name == batch  # filed from settled photos just now
        seen[b.name] = b.digest
        if not b.files or not settled:
            waiting.append(f"{b.name}: " + ("empty" if not b.files else "changed since the last tick: settling"))
            continue
        if requested.get(b.name) == b.digest and b.name in known:
            continue
        added += [] if b.name in known else [b.name]
        requested[b.name] = b.digest
        runs.append(dg.RunRequest(partition_key=b.name, run_key=f"{b.name}-{b.digest[:16]}",
                                  tags={CHANGE_TAG: "incoming"}))
        context.log.info(f"batch {b.name}: {b.files} files, " + ("new" if b.name not in known else "changed"))
    names = {b.name for b in found}
    cursor = json.dumps({"requested": {n: d for n, d in requested.items() if n in names},
                         "seen": {n: d for n, d in seen.items() if n in names},
                         "loose": {n: s for n, s in loose.items() if n not in ready}})
    if not runs:
        return dg.SensorResult(skip_reason="; ".join(waiting + unusable) or "no new or changed batch in incoming/",
                               cursor=cursor)
    return dg.SensorResult(run_requests=runs, cursor=cursor,
                           dynamic_partitions_requests=[incoming_batches.build_add_request(added)] if added else [])


automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation_sensor", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.STOPPED,
    description="Materializes what the assets' automation conditions ask for after changes made by hand (a re-run in "
                "the UI, a retrained classifier); the raw folders' changes are requested by raw_data_sensor.")
