"""ServerProcess: the lifecycle every backend shares. A backend only builds the command.

Own process group on a free port (through the launcher, so it dies with pytest), output to a log file,
wait for /health and then /v1/models, early death reported with the log tail, SIGTERM then SIGKILL.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

import pytest

from pytest_nemoeval.servers.lifecycle import STOP_GRACE, on_exit, terminate


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """One model server: `command` serves an OpenAI-compatible API on 127.0.0.1:`port`."""

    def __init__(self, name: str, command: list[str], port: int, log_path: Path) -> None:
        self.name = name
        self.command = command
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "pytest_nemoeval.servers.launch", *self.command],
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        deadline = time.monotonic() + timeout
        for path in ("/health", "/v1/models"):  # vLLM answers /health before the model is listed
            while not self._answers(path):
                if self.process.poll() is not None:
                    raise pytest.UsageError(f"{self.name} exited with status {self.process.returncode} while "
                                            f"starting; log {self.log_path}: {self.log_tail()}")
                if time.monotonic() > deadline:
                    self.stop()
                    raise pytest.UsageError(f"{self.name} did not become ready within {timeout:g} s "
                                            f"(raise --deploy-timeout); log {self.log_path}: {self.log_tail()}")
                time.sleep(0.2)

    def _answers(self, path: str) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as response:
                body = response.read()
        except (urllib.error.URLError, OSError):
            return False
        if path != "/v1/models":
            return True
        try:
            return bool(json.loads(body).get("data"))
        except (ValueError, AttributeError):
            return False

    def watch(self, on_death: Callable[[str], None]) -> None:
        """Call `on_death(reason)` from a thread if the server exits before stop()."""
        if self.process is None:
            return

        def exited(status: int) -> None:
            if not self._stopping:
                on_death(f"{self.name} exited with status {status} during the run; "
                         f"log {self.log_path}: {self.log_tail()}")

        on_exit(self.process, exited, "nemoeval-server-watch")

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:]) or "(empty log)"

    def stop(self, grace: float = STOP_GRACE) -> None:
        self._stopping = True
        process, self.process = self.process, None
        if process is not None:
            terminate(process, grace, group=True)
