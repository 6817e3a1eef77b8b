"""Progress: a status line (done/total, requests/s, errors, ETA) written every few seconds.

Written by the engine process straight to the terminal's stderr (pytest's captures do not hold it back).
Whole lines, never carriage returns, each starting on a fresh line since pytest may be in the middle of
its own, so it stays readable under -v and in CI logs; -q writes it less often, -qq not at all.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Counts outcomes (from the engine's event loop) and writes the status line: on `tick()`, which the
    engine calls every `interval` seconds whether or not anything finished, and once at the end."""

    def __init__(self, interval: float, total: int = 0, stream: TextIO | None = None) -> None:
        self.total = total
        self.interval = interval
        self._stream = stream or sys.stderr
        self._done = self._errors = self._cached = 0
        self._started = time.monotonic()

    def advance(self, error: bool = False, cached: bool = False) -> None:
        self._done += 1
        self._errors += error
        self._cached += cached
        if self._done == self.total:
            self.tick()

    def tick(self) -> None:
        self._stream.write("\n" + self.line(time.monotonic()) + "\n")
        self._stream.flush()

    def line(self, now: float) -> str:
        elapsed = max(now - self._started, 1e-9)
        sent = self._done - self._cached
        rate = sent / elapsed
        remaining = self.total - self._done
        eta = f"{remaining / rate:.0f} s" if rate > 0 and remaining else "-"
        return (f"nemoeval: generated {self._done}/{self.total} ({self._cached} cached), "
                f"{rate:.1f} req/s, {self._errors} errors, ETA {eta}")
