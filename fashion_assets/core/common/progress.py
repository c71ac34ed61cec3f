"""Progress of a long loop as log lines with counts, rate and ETA (Dagster has no progress bar)."""

from __future__ import annotations

import time
from typing import Callable


class Progress:
    """Call ``update(done)`` as work completes; a line is logged at most every ``every`` seconds,
    and at the end (``last_line=False``: only if an earlier line was logged, for a caller that
    reports the outcome itself: a short loop then logs nothing)."""

    def __init__(self, total: int, what: str, log: Callable[[str], None] = print, every: float = 5.0,
                 unit: str = "/s", last_line: bool = True):
        self.total, self.what, self.log, self.every, self.unit = total, what, log, every, unit
        self.last_line = last_line
        self.start = time.perf_counter()
        self.last = 0.0

    def update(self, done: int) -> None:
        elapsed = time.perf_counter() - self.start
        if done < self.total and elapsed - self.last < self.every:
            return
        if done >= self.total and not self.last_line and self.last == 0.0:
            return
        self.last = elapsed
        rate = done / max(elapsed, 1e-9)
        eta = (self.total - done) / max(rate, 1e-9)
        self.log(f"{self.what}: {done:,}/{self.total:,} ({rate:,.1f}{self.unit}, ETA {eta:.0f}s)")

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start
