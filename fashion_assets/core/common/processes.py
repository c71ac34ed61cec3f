"""Is a process (by pid) still the one that was started at a given time? Linux /proc when
present (so a reused pid is not mistaken for the original process), else a signal-0 probe."""

from __future__ import annotations

import os
from pathlib import Path


def _start_time(pid: int) -> float | None:
    """The process's start as a Unix time, from /proc (None where /proc is not available)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, StopIteration, ValueError):
        return None
    ticks = float(stat.rsplit(")", 1)[1].split()[19])  # field 22: start time after boot, in clock ticks
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def is_running(pid: int, started_by: float) -> bool:
    """True when process ``pid`` exists and started no later than ``started_by`` (+1 s of clock slack)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    start = _start_time(pid)
    return start is None or start <= started_by + 1.0
