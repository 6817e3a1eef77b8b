"""Progress: a status line (done/total, requests/s, errors, ETA; while requests are in flight, how many and for how
long the oldest has been, and the tokens per second streamed replies arrive at), every few seconds.

The engine process keeps the current line in a small file (`Progress`); the process that owns the terminal
(the only one, or the xdist controller) shows it through pytest's terminal reporter (`StatusLine`): on a
line of its own, after pytest's current line of dots, which pytest then resumes with its file name. Under
-v it stays readable, in CI logs it is one plain line; -q shows it less often, -qq not at all.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any


class Flight:
    """One attempt in flight: its start, and the tokens of its reply counted so far (streamed replies only)."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self.started = time.monotonic()
        self.tokens = 0
        self.streaming = False  # sent streamed: its tokens are counted

    def __enter__(self) -> Flight:
        if self._progress is not None:
            self._progress.flights.add(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.flights.discard(self)

    def generated(self, tokens: int) -> None:
        """`tokens` more pieces of the reply arrived (a streamed chunk carries about one token)."""
        self.tokens += tokens
        if self._progress is not None:
            self._progress.streamed += tokens

    def settle(self, exact: int) -> None:
        """The reply's usage gave its exact token count: it replaces the pieces counted."""
        self.generated(exact - self.tokens)


def duration(seconds: float) -> str:
    """45s, 3m12s, 2h05m."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"


class Progress:
    """Counts outcomes (from the engine's event loop) and writes the status line to `path`: on `tick()`,
    which the engine calls every `interval` seconds whether or not anything finished, and once at the end."""

    def __init__(self, interval: float, path: Path, total: int = 0) -> None:
        self.total = total
        self.interval = interval
        self._path = path
        self._done = self._errors = self._cached = 0
        self._started = time.monotonic()
        self.flights: set[Flight] = set()
        self.streamed = 0  # tokens of streamed replies, counted as they arrive
        self._window = (self._started, 0)  # (when, streamed) at the last line: tok/s is measured since then

    def advance(self, error: bool = False, cached: bool = False) -> None:
        self._done += 1
        self._errors += error
        self._cached += cached
        if self._done == self.total:
            self.tick()

    def tick(self) -> None:
        now = time.monotonic()
        partial = self._path.with_name(self._path.name + ".partial")
        partial.write_text(self.line(now) + "\n")
        os.replace(partial, self._path)  # a reader sees the old line or the new one, never half of one
        self._window = (now, self.streamed)

    def line(self, now: float) -> str:
        elapsed = max(now - self._started, 1e-9)
        sent = self._done - self._cached
        rate = sent / elapsed
        remaining = self.total - self._done
        eta = f"{remaining / rate:.0f} s" if rate > 0 and remaining else "-"
        line = (f"nemoeval: generated {self._done}/{self.total} ({self._cached} cached), "
                f"{rate:.1f} req/s, {self._errors} errors, ETA {eta}")
        if self.flights:
            oldest = now - min(flight.started for flight in self.flights)
            since, streamed = self._window
            tokens = max(0, self.streamed - streamed) / max(now - since, 1e-9)  # a usage count may lower it
            line += f", {len(self.flights)} in flight (oldest {duration(oldest)})"
            if any(flight.streaming for flight in self.flights) or tokens:
                line += f", {tokens:.0f} tok/s"
        return line


class StatusLine:
    """The terminal side: `due()` gives the engine's latest line when it is new and `interval` seconds have
    passed since the last one shown (or at the end, `final=True`), else None."""

    def __init__(self, path: Path, interval: float) -> None:
        self.path = path
        self.interval = interval
        self._shown = ""
        self._at = time.monotonic()

    def due(self, final: bool = False) -> str | None:
        now = time.monotonic()
        if not final and now - self._at < self.interval:
            return None
        try:
            line = self.path.read_text().strip()
        except FileNotFoundError:
            return None
        if not line or line == self._shown:
            return None
        self._shown, self._at = line, now
        return line

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
