"""Run a job of the project in this process, quietly: ``make run`` and ``make catalogue``.

    python -m fashion_assets.cli.run JOB [--config FILE.yaml] [--log FILE]

The terminal shows one line when a step starts and one when it ends (with its duration), what the
steps log at INFO and above (progress with ETA, epochs), every warning and failure in full. The
complete event log is the run's record in the web UI and goes to a log file whose path is
printed (default ``<data root>/logs/<job>-<run id>.log``). The run config's settings are checked
against their ranges before the run is launched (Dagster checks only their types), naming the
field. Exit status: 0 when the run succeeded, 1 when it failed, 2 for a bad run config.
"""

from __future__ import annotations

import argparse
import sys
import time
import typing
import uuid
from pathlib import Path

import dagster as dg
import yaml
from pydantic import ValidationError


def config_problems(job: dg.JobDefinition, run_config: dict) -> list[str]:
    """Each op's settings in ``run_config`` checked by the op's Config class (its ranges): one
    line per problem, naming the op and the field."""
    problems = []
    for op, settings in (run_config.get("ops") or {}).items():
        node = job.graph.node_dict.get(op)
        if node is None:
            problems.append(f"ops.{op}: no such step in {job.name}")
            continue
        hints = typing.get_type_hints(node.definition.compute_fn.decorated_fn)
        config_class = hints.get("config")
        if not (isinstance(config_class, type) and issubclass(config_class, dg.Config)):
            continue
        try:
            config_class(**(settings or {}).get("config", {}))
        except ValidationError as exc:
            problems += [f"ops.{op}.config.{'.'.join(map(str, e['loc']))}: {e['msg']} (got {e.get('input')!r})"
                         for e in exc.errors()]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fashion_assets.cli.run", description=__doc__.splitlines()[0])
    parser.add_argument("job")
    parser.add_argument("--config", "-c", help="run config (YAML)")
    parser.add_argument("--log", help="the complete log (default <data root>/logs/<job>-<run id>.log)")
    args = parser.parse_args(argv)

    from ..definitions import defs

    run_config = yaml.safe_load(Path(args.config).read_text()) or {} if args.config else {}
    job = defs.resolve_job_def(args.job)
    problems = config_problems(job, run_config)
    if problems:
        print(f"{args.config}: not run, settings out of range:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    with dg.DagsterInstance.get() as instance:
        run_id = str(uuid.uuid4())  # as Dagster makes them: the log file is named before the run starts
        log_file = Path(args.log) if args.log else defs.resources["data_root"].path / "logs" / f"{args.job}-{run_id[:8]}.log"
        print(f"{args.job}: run {run_id[:8]}; the full log: {log_file} (and the run's page in the web UI)", flush=True)
        start = time.time()
        loggers = {"console": {"config": {"quiet": True, "log_file": str(log_file)}}}
        result = job.execute_in_process(run_config={**run_config, "loggers": loggers}, instance=instance,
                                        raise_on_error=False, run_id=run_id)
    took = time.time() - start
    print(f"{args.job}: {'succeeded' if result.success else 'FAILED'} in {took / 60:.0f} min {took % 60:.0f} s"
          + ("" if result.success else f"; the full log: {log_file}"), flush=True)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
