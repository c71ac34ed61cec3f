"""Schedules: the preference chain nightly, so late answers are picked up even without the sensor."""

import dagster as dg

from .jobs import preference_chain_job

nightly_preference_chain = dg.ScheduleDefinition(
    name="nightly_preference_chain", job=preference_chain_job, cron_schedule="0 3 * * *", execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Re-run label table → valid labels → preferences → predictions every night at 03:00 UTC.")
