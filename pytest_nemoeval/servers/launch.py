"""Runs a model server's command and ties its whole process group to pytest's life.

`python -m pytest_nemoeval.servers.launch COMMAND...`: ServerProcess starts this in a new session (so it
leads the group), it starts COMMAND in the same group and waits. If pytest dies, even by SIGKILL, the kernel
sends this process SIGTERM (PR_SET_PDEATHSIG), and it stops the whole group: vLLM's API server and every
engine/worker process it spawned, which a signal to the API server alone would leave behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from pytest_nemoeval.servers.lifecycle import die_with_parent

GRACE = 10.0  # seconds between SIGTERM and SIGKILL to the group


def _stop_group(*_: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the group's SIGTERM reaches this process too
    os.killpg(0, signal.SIGTERM)
    deadline = time.monotonic() + GRACE
    while time.monotonic() < deadline:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                time.sleep(0.1)
        except ChildProcessError:  # the server is gone; its own children get the SIGKILL below
            break
    os.killpg(0, signal.SIGKILL)


def main(command: list[str]) -> int:
    die_with_parent(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _stop_group)
    signal.signal(signal.SIGINT, _stop_group)
    child = subprocess.Popen(command)
    status = child.wait()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.killpg(0, signal.SIGTERM)  # what the server left behind
    return status if status >= 0 else 128 - status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
