"""Ctrl-C and SIGTERM end a run the same way: pytest's KeyboardInterrupt, so that the engine is stopped, the
server torn down and the run said to be interrupted (Python's default SIGTERM ends the process on the spot).
A signal that the run inherited as ignored (a background job's SIGINT) stays ignored."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Callable

_received: list[int] = []


def _interrupt(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    raise KeyboardInterrupt(signal.Signals(signum).name)


def install() -> Callable[[], None]:
    """Handle SIGINT and SIGTERM where they have Python's default handling; returns what undoes it."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    _received.clear()
    previous: dict[int, Any] = {}
    for sig, default in ((signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, signal.SIG_DFL)):
        if signal.getsignal(sig) is default:
            previous[sig] = signal.signal(sig, _interrupt)

    def restore() -> None:
        for sig, handler in previous.items():
            if signal.getsignal(sig) is _interrupt:
                signal.signal(sig, handler)

    return restore


def received() -> str | None:
    """The name of the signal that interrupted this run, if one did."""
    return signal.Signals(_received[0]).name if _received else None


def summary(signal_name: str, answered: int, cache: Path | None) -> str:
    """The one line an interrupted run ends with (`cache`: where its answers are kept, None with --no-cache)."""
    kept = (f"the answers received are kept in {cache}: the same command resumes without sending them again"
            if cache is not None else "--no-cache: nothing is kept for a rerun")
    return (f"nemoeval: interrupted by {signal_name} after {answered} scored item(s); results.json was not "
            f"written; {kept}")


def drop_lineless_frames(tb: TracebackType | None) -> None:
    """A signal can land where a frame has no line number (CPython 3.11: a `with` statement's __enter__); pytest's
    report of the KeyboardInterrupt then fails on it (tb_lineno None) and the run exits 1, not 2. Such entries
    are taken out of the chain (tb_next is writable)."""
    while tb is not None and tb.tb_next is not None:
        if tb.tb_next.tb_lineno is None:
            tb.tb_next = tb.tb_next.tb_next
        else:
            tb = tb.tb_next
