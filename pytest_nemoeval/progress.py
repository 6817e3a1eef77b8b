"""Progress: a status line (done/total, requests/s, errors, ETA) written every few seconds.

Whole lines, never carriage returns, so it stays readable between pytest's own output under -v and
in CI logs; -q writes it less often, -qq not at all, xdist workers never (the controller reports).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class Progress:
    def __init__(self, interval: float, total: int = 0, stream: TextIO | None = None) -> None:
        self.total = total
        self.interval = interval
        self._stream = stream or sys.stderr
        self._lock = threading.Lock()
        self._done = self._errors = self._cached = 0
        self._started = time.monotonic()
        self._last = self._started

    def advance(self, error: bool = False, cached: bool = False) -> None:
        with self._lock:
            self._done += 1
            self._errors += error
            self._cached += cached
            now = time.monotonic()
            if now - self._last < self.interval and self._done < self.total:
                return
            self._last = now
            line = self.line(now)
        self._stream.write(line + "\n")
        self._stream.flush()

    def line(self, now: float) -> str:
        elapsed = max(now - self._started, 1e-9)
        sent = self._done - self._cached
        rate = sent / elapsed
        remaining = self.total - self._done
        eta = f"{remaining / rate:.0f} s" if rate > 0 and remaining else "-"
        return (f"nemoeval: generated {self._done}/{self.total} ({self._cached} cached), "
                f"{rate:.1f} req/s, {self._errors} errors, ETA {eta}")
