"""Sensors: re-run the label-dependent assets when new survey JSON arrives."""

import time

import dagster as dg

from .core.arrivals import ArrivalCursor, new_files
from .core.scanning import LABEL_FOLDERS
from .jobs import preference_chain_job
from .resources import DataRootResource

SETTLE_SECONDS = 10.0


@dg.sensor(job=preference_chain_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED,
           description="New survey JSON in the label folders → re-run label table, valid labels, leakage, "
                       "preferences, predictions and report. Files younger than 10 s wait (may be half-written).")
def survey_arrival_sensor(context: dg.SensorEvaluationContext, data_root: DataRootResource) -> dg.SensorResult:
    cursor = ArrivalCursor.loads(context.cursor)
    folders = [data_root.raw / f for f in LABEL_FOLDERS.values()]
    found, advanced = new_files(folders, cursor, time.time_ns(), SETTLE_SECONDS)
    if not found:
        return dg.SensorResult(skip_reason="no new settled survey files", cursor=cursor.dumps())
    key = f"labels-{advanced.mtime_ns}-{len(found)}"
    context.log.info(f"{len(found)} new survey files, e.g. {found[:3]}")
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=key, tags={"new_survey_files": str(len(found))})],
                           cursor=advanced.dumps())
