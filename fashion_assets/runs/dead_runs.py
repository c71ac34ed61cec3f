"""Runs whose worker process died (killed, out of memory, machine reset) are marked failed.

Dagster's run monitoring (enabled in dagster.yaml) fails runs stuck while starting or
cancelling, but with the default run launcher it cannot tell that a started run's process is
gone: such a run would stay STARTED for ever. ``dead_run_sensor`` checks the process that
recorded each started run's RUN_START event and fails the run, with the reason, when it is gone.
"""

from __future__ import annotations

import dagster as dg
from .internals import DefaultRunLauncher

from ..core.common.processes import is_running


def dead_runs(instance: dg.DagsterInstance) -> list[tuple[dg.DagsterRun, int]]:
    """(run, pid) of every STARTED run whose worker process on this machine is gone."""
    if not isinstance(instance.run_launcher, DefaultRunLauncher):
        return []  # other launchers (Kubernetes) report worker health to run monitoring themselves
    dead = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        start = next(iter(instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_START)), None)
        pid = start.dagster_event.pid if start and start.dagster_event else None
        if pid is not None and not is_running(pid, start.timestamp):
            dead.append((run, pid))
    return dead


def fail_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark every dead STARTED run failed, saying why; returns their ids."""
    failed = []
    for run, pid in dead_runs(instance):
        instance.report_run_failed(run, f"the run's worker process (pid {pid}) is gone — killed or crashed; "
                                        "its steps did not finish (tables keep their last committed state)")
        failed.append(run.run_id)
    return failed


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Marks runs whose worker process died (killed, crashed) as failed instead of leaving "
                       "them started for ever.")
def dead_run_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    failed = fail_dead_runs(context.instance)
    if failed:
        context.log.info(f"marked {len(failed)} dead runs failed: {failed}")
    return dg.SkipReason(f"marked {len(failed)} dead runs failed" if failed else "no dead runs")
