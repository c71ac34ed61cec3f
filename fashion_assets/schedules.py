"""Schedules: the nightly survey refresh and the weekly retrain (the Automation tab lists both,
off until a user switches them on; ``make ui`` starts the daemon that runs them).

- ``nightly_refresh`` (03:00 UTC): for each raw source whose folders' fingerprint now differs
  from the data version that the tables were last built from (the ``label_table`` /
  ``image_table`` materialization's input data version), one run that observes the source and
  materializes what follows from it — what ``raw_data_sensor`` would have asked for. It catches
  up what a stopped daemon, a sensor left off or a missed tick did not see; when nothing changed
  the tick is skipped and says why.
- ``weekly_retrain`` (Sunday 04:00 UTC): when ``style_classifier`` is unsynced — an input's
  data version, or its code version, differs from what its last training was built from — one
  run that trains it (with the settings of its last training), registers the new version (the
  champion alias moves only when the blocking gate passes) and rebuilds what depends on the
  champion. Otherwise skipped, with the reason.

The cron strings are settings (``FASHION_ASSETS_NIGHTLY_CRON``, ``FASHION_ASSETS_WEEKLY_CRON``),
read here only; the tests set ``* * * * *`` to get a real daemon tick within a minute.
"""

from __future__ import annotations

import os

import dagster as dg

from .assets import ASSET_MODULES
from .assets.sources import RAW_SOURCES, observe_raw
from .resources import DataRootResource
from .sensors import CHANGE_TAG, FOLLOWING, following, refresh_request

NIGHTLY_CRON = os.environ.get("FASHION_ASSETS_NIGHTLY_CRON", "0 3 * * *")
WEEKLY_CRON = os.environ.get("FASHION_ASSETS_WEEKLY_CRON", "0 4 * * 0")
DATA_VERSION_TAG, CODE_VERSION_TAG = "dagster/data_version", "dagster/code_version"
INPUT_VERSION_TAG = "dagster/input_data_version/{}"
RETRAINED = dg.AssetKey("style_classifier")
ACTIVE = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
          dg.DagsterRunStatus.STARTED]

_ASSETS = [a for a in dg.load_assets_from_modules(ASSET_MODULES) if isinstance(a, dg.AssetsDefinition)]
_SPECS = {spec.key: spec for a in _ASSETS for spec in a.specs}
_OPS = {key: a.op.name for a in _ASSETS for key in a.keys}
CONSUMERS = {source: sorted((k for k, s in _SPECS.items() if dg.AssetKey(source) in {d.asset_key for d in s.deps}),
                            key=lambda k: k.to_user_string()) for source in RAW_SOURCES}
RETRAIN = [RETRAINED, *following(_ASSETS, RETRAINED.to_user_string())]


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey):
    event = instance.get_latest_materialization_event(key)
    return event.asset_materialization if event is not None and event.asset_materialization else None


def built_from(instance: dg.DagsterInstance, consumer: dg.AssetKey, source: str) -> str | None:
    """The data version of ``source`` that ``consumer``'s latest materialization was built from
    (None: never built, or built before the source was ever observed)."""
    latest = _latest(instance, consumer)
    return latest.tags.get(INPUT_VERSION_TAG.format(source)) if latest else None


def _active_change(instance: dg.DagsterInstance, source: str) -> str | None:
    runs = instance.get_run_records(dg.RunsFilter(statuses=ACTIVE, tags={CHANGE_TAG: source}), limit=1)
    return runs[0].dagster_run.run_id if runs else None


@dg.schedule(cron_schedule=NIGHTLY_CRON, name="nightly_refresh", default_status=dg.DefaultScheduleStatus.STOPPED,
             target=dg.AssetSelection.assets(*RAW_SOURCES, *{k for keys in FOLLOWING.values() for k in keys}),
             description="Nightly: for each raw folder (surveys, images) whose listing changed since the tables were "
                         "last built from it, one run that observes it and refreshes what follows from it; skipped, "
                         "with the reason, when nothing changed (catches up a stopped daemon or sensor).")
def nightly_refresh(context: dg.ScheduleEvaluationContext, data_root: DataRootResource):
    runs, unchanged = [], []
    day = context.scheduled_execution_time.strftime("%Y-%m-%dT%H%M")
    for source in RAW_SOURCES:
        listing = observe_raw(data_root, source)
        built = {c.to_user_string(): built_from(context.instance, c, source) for c in CONSUMERS[source]}
        stale = [name for name, version in built.items() if version != listing.digest]
        if not stale:
            unchanged.append(f"{source} unchanged since {', '.join(built)} were built from it "
                             f"(data version {listing.digest[:12]})")
            continue
        active = _active_change(context.instance, source)
        if active:
            unchanged.append(f"{source} changed, and run {active} is already refreshing it")
            continue
        context.log.info(f"{source}: listing {listing.digest[:12]} ({listing.entries} entries) is not what "
                         f"{', '.join(stale)} were built from ({built[stale[0]] and built[stale[0]][:12]}): refreshing")
        runs.append(refresh_request(data_root, source, listing, f"nightly-{day}-{source}-{listing.digest[:16]}",
                                    observe=True))
    return runs or dg.SkipReason("; ".join(unchanged))


def unsynced_because(instance: dg.DagsterInstance, key: dg.AssetKey) -> list[str] | None:
    """Why ``key`` is unsynced: each input whose data version now differs from the one its
    latest materialization was built from, and a changed code version. [] = in sync; None =
    never materialized."""
    latest = _latest(instance, key)
    if latest is None:
        return None
    spec, why = _SPECS[key], []
    for dep in sorted((d.asset_key for d in spec.deps), key=lambda k: k.to_user_string()):
        now = _latest(instance, dep)
        current = now.tags.get(DATA_VERSION_TAG) if now else None
        if current != latest.tags.get(INPUT_VERSION_TAG.format(dep.to_user_string())):
            why.append(f"{dep.to_user_string()} changed")
    if spec.code_version and latest.tags.get(CODE_VERSION_TAG) != spec.code_version:
        why.append(f"code version {latest.tags.get(CODE_VERSION_TAG)} → {spec.code_version}")
    return why


def last_settings(instance: dg.DagsterInstance, keys: list[dg.AssetKey]) -> dict:
    """The run config of each asset's op in the run that last materialized it (the retrain uses
    the settings of the last training; an asset never configured keeps its defaults)."""
    ops, runs = {}, {}
    for key in keys:
        event = instance.get_latest_materialization_event(key)
        if event is None:
            continue
        run = runs.setdefault(event.run_id, instance.get_run_by_id(event.run_id))
        config = ((run.run_config or {}).get("ops") or {}).get(_OPS[key]) if run else None
        if config is not None:
            ops[_OPS[key]] = config
    return {"ops": ops} if ops else {}


@dg.schedule(cron_schedule=WEEKLY_CRON, name="weekly_retrain", default_status=dg.DefaultScheduleStatus.STOPPED,
             target=dg.AssetSelection.assets(*RETRAIN),
             description="Weekly: when style_classifier is unsynced (an input or its code changed since its last "
                         "training), retrain it with its last settings, register the version (champion only through "
                         "the gate) and rebuild what depends on the champion; skipped, with the reason, otherwise.")
def weekly_retrain(context: dg.ScheduleEvaluationContext):
    why = unsynced_because(context.instance, RETRAINED)
    if why == []:
        return dg.SkipReason("style_classifier is in sync with its inputs and code: nothing to retrain")
    missing = [d.asset_key.to_user_string() for d in _SPECS[RETRAINED].deps if _latest(context.instance, d.asset_key) is None]
    if missing:
        return dg.SkipReason(f"style_classifier's inputs {', '.join(missing)} were never materialized: run the "
                             f"tables and images first")
    reason = "never trained" if why is None else "; ".join(why)
    context.log.info(f"style_classifier is unsynced ({reason}): retraining and rebuilding {len(RETRAIN) - 1} assets")
    return dg.RunRequest(run_key=f"retrain-{context.scheduled_execution_time.strftime('%Y-%m-%dT%H%M')}",
                         asset_selection=RETRAIN, run_config=last_settings(context.instance, RETRAIN),
                         tags={"fashion_assets/retrain": reason[:200]})


ALL_SCHEDULES = [nightly_refresh, weekly_retrain]
