"""Child-process lifecycle shared by the model servers and the engine process: die with the parent,
stop with SIGTERM then SIGKILL, and hear of an unexpected exit."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
from typing import Callable

STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL
KILL_WAIT = 5.0


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Linux: the kernel sends this process `sig` when its parent dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, sig)


def terminate(process: subprocess.Popen[bytes], grace: float = STOP_GRACE, group: bool = False) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `grace` seconds; `group`: its whole process group."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, KILL_WAIT)):
        try:
            os.killpg(process.pid, sig) if group else process.send_signal(sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def on_exit(process: subprocess.Popen[bytes], callback: Callable[[int], None], name: str) -> threading.Thread:
    """Call `callback(status)` from a daemon thread once the process has exited; the thread."""
    thread = threading.Thread(target=lambda: callback(process.wait()), name=name, daemon=True)
    thread.start()
    return thread
