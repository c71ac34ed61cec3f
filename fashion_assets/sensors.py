"""Automation: the raw folders are observed, and declarative automation follows the data.

``raw_data_sensor`` fingerprints the raw folders every 30 s and records an observation (a new
data version) of ``raw_images`` / ``raw_labels`` when a listing changed — a file added, removed,
replaced or edited, whatever its mtime. ``automation_sensor`` then materializes what the
automation conditions ask for: the tables, images and predictions follow eagerly; training is
left to the user (the classifier is marked stale instead). A folder with entries younger than
the settle time (perhaps still being written) is looked at again on the next tick.
"""

import json

import dagster as dg

from .assets.sources import RAW_FOLDERS, observe_raw
from .resources import DataRootResource

SETTLE_SECONDS = 10.0
DATA_VERSION_TAG = "dagster/data_version"


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
           description="Observes the raw image and survey folders: a changed listing (new, removed, replaced or edited "
                       "files) becomes a new data version of raw_images / raw_labels, which automation_sensor follows.")
def raw_data_sensor(context: dg.SensorEvaluationContext, data_root: DataRootResource) -> dg.SensorResult:
    # The cursor holds one digest per source: 2 × 64 characters however many files there are.
    cursor = json.loads(context.cursor) if context.cursor else {}
    events, waiting = [], []
    for source in RAW_FOLDERS:
        listing = observe_raw(data_root, source, SETTLE_SECONDS)
        known = cursor.get(source) or _recorded_version(context, source)
        if listing.unsettled:
            waiting.append(f"{source}: {listing.unsettled} entries modified in the last {SETTLE_SECONDS:.0f} s")
        elif listing.digest != known:
            events.append(dg.AssetObservation(asset_key=source, tags={DATA_VERSION_TAG: listing.digest},
                                              metadata={"entries": listing.entries}))
            cursor[source] = listing.digest
            context.log.info(f"{source} changed: {listing.entries} entries, data version {listing.digest[:12]}")
    if not events:
        return dg.SensorResult(skip_reason="; ".join(waiting) or "no change in the raw folders", cursor=json.dumps(cursor))
    return dg.SensorResult(asset_events=events, cursor=json.dumps(cursor))


automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation_sensor", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.STOPPED,
    description="Materializes what the assets' automation conditions ask for: the tables, image stage, features and "
                "predictions follow new data eagerly; the classifiers are trained when you ask.")
