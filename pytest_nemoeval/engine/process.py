"""EngineProcess: the parent's handle on the engine process (`python -m pytest_nemoeval.engine`)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from pytest_nemoeval.engine.loop import Lane
from pytest_nemoeval.engine.store import STOPPED, ResponseStore
from pytest_nemoeval.servers.lifecycle import on_exit, terminate


class EngineProcess:
    """The parent's handle on the engine process. A watchdog turns its unexpected death into a STOPPED
    marker, so that no item (here or in an xdist worker) waits for a response that will never come."""

    def __init__(self, store: ResponseStore, *, lanes: list[Lane], request_timeout: float, max_retries: int,
                 status: tuple[Path, float] | None, stderr: int, settings: dict[str, Any] | None = None,
                 first: int = 0) -> None:
        self._store = store
        # Keys stay in the environment (a lane names its variable): a command line is visible to every user.
        self._command = [sys.executable, "-m", "pytest_nemoeval.engine", "--store", str(store.path),
                         "--run-id", store.run_id, "--request-timeout", str(request_timeout),
                         "--max-retries", str(max_retries), "--settings", json.dumps(settings or {}, default=str),
                         "--first", str(first)]
        if status is not None:  # (file, seconds): the status line is kept there, renewed that often
            self._command += ["--status", str(status[0]), "--progress-interval", str(status[1])]
        for lane in lanes:
            self._command += ["--lane", lane.spec()]
        self._stderr = stderr
        self._process: subprocess.Popen[bytes] | None = None
        self._watch: threading.Thread | None = None
        self._closing = False

    def start(self) -> None:
        self._process = subprocess.Popen(self._command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=self._stderr)
        self._watch = on_exit(self._process, self._exited, "nemoeval-engine-watch")

    def _exited(self, status: int) -> None:
        if not self._closing:  # after a normal end every item has its response, which wins over the marker
            store = ResponseStore(self._store.path, self._store.run_id)
            store.fail(STOPPED, f"generation engine exited (status {status}) before answering this item", replace=False)
            store.close()

    def finished(self, timeout: float = 60.0) -> bool:
        """Wait for an engine that has sent its whole plan to exit, without the watchdog's STOPPED marker (another
        engine sends what is appended to the plan); False if it is still running after `timeout` seconds."""
        self._closing = True
        if self._process is None:
            return True
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        if self._watch is not None:
            self._watch.join(timeout)  # its marker, if it came before _closing, is down before the next engine starts
        return True

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def close(self, reason: str = "generation was cancelled") -> None:
        """Cancel queued and in-flight requests (returns within seconds); waiting items fail with `reason`."""
        if self._closing:
            return
        self._closing = True
        self._store.fail(STOPPED, reason, replace=False)
        if self._process is not None:
            terminate(self._process)
