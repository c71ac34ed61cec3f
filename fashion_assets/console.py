"""The console logger of every run: Dagster's usual lines by default; with ``quiet: true`` (what
``python -m fashion_assets.cli.run`` — ``make run`` — asks for) one line per step as it starts and
ends with its duration, what steps log at INFO and above (progress, epochs), every warning and
failure in full — and every record, quiet or not, in ``log_file`` when one is named.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import dagster as dg

DAGSTER_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"  # Dagster's own console lines


class QuietConsole(logging.Handler):
    """Dagster's log records as a person wants them in a terminal."""

    def __init__(self, stream=None):
        super().__init__(logging.DEBUG)
        self.stream = stream or sys.stdout
        self.started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        step = meta.get("step_key") or ""
        message = meta.get("orig_message") or record.getMessage()
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        kind, line = event.event_type_value if event else None, None
        if kind == "STEP_START":
            self.started[step] = record.created
            line = f"{stamp}  {step} …"
        elif kind == "STEP_SUCCESS":
            line = f"{stamp}  {step} done in {record.created - self.started.get(step, record.created):.1f} s"
        elif kind in ("STEP_FAILURE", "RUN_FAILURE"):
            error = getattr(event.event_specific_data, "error", None)
            line = f"{stamp}  {step or 'run'} FAILED: {error.to_string() if error else message}"
        elif kind == "ASSET_CHECK_EVALUATION" and not event.event_specific_data.passed:
            line = f"{stamp}  {step}: check {event.event_specific_data.check_name} did not pass"
        elif (event is None and record.levelno >= logging.INFO) or record.levelno >= logging.WARNING:
            line = f"{stamp}  {step + ': ' if step else ''}{message}"
        if line:
            print(line, file=self.stream, flush=True)


@dg.logger(
    config_schema={
        "quiet": dg.Field(bool, default_value=False, description="Steps and what they log at INFO+, not every event."),
        "log_level": dg.Field(str, default_value="DEBUG", description="Threshold of the terminal when not quiet."),
        "log_file": dg.Field(str, default_value="", description="Also write every record to this file."),
    },
    description="Dagster's console lines, or the quiet ones of `make run`; optionally the complete log in a file.")
def console_logger(init_context) -> logging.Logger:
    config = init_context.logger_config
    log = logging.getLogger(f"fashion_assets.console.{id(init_context)}")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    if config["quiet"]:
        terminal = QuietConsole()
    else:
        terminal = logging.StreamHandler(sys.stderr)
        terminal.setLevel(config["log_level"].upper())
        terminal.setFormatter(logging.Formatter(DAGSTER_FORMAT))
    log.handlers = [terminal]
    if config["log_file"]:
        Path(config["log_file"]).parent.mkdir(parents=True, exist_ok=True)
        full = logging.FileHandler(config["log_file"], encoding="utf-8")
        full.setFormatter(logging.Formatter(DAGSTER_FORMAT))
        log.handlers.append(full)
    return log
