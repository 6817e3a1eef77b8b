"""The Docker side of the container suites: the daemon check before anything is sent, how many trials run at
once, and removing containers by the labels inside/nemoeval_docker.py gives them."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import threading
import weakref
from pathlib import Path
from typing import Any

import pytest

OWNER_LABEL = "nemoeval.owner"
TRIAL_LABEL = "nemoeval.trial"
GIB = 1024 ** 3
MEMORY_PER_TRIAL = 4 * GIB  # a default trial slot: Terminal-Bench's smaller tasks ask 2-4 GiB

_network_lock = threading.Lock()
_networks: dict[str, tuple[str, str]] = {}
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def default_workers() -> int:
    """Trials at once by default: one per core, at most one per 4 GiB of memory, at least one."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        memory = MEMORY_PER_TRIAL
    return max(1, min(os.cpu_count() or 1, memory // MEMORY_PER_TRIAL))


def slots(settings: dict[str, Any]) -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    if loop not in _slots:
        _slots[loop] = asyncio.Semaphore(int(settings.get("container_workers") or default_workers()))
    return _slots[loop]


def owner_id(results_dir: str | Path) -> str:
    """The label value of a results directory's containers: one live run per directory (its lock), so what
    carries it when a run starts was left by a killed one."""
    return hashlib.sha256(str(Path(results_dir).resolve()).encode()).hexdigest()[:16]


def check_daemon(results_dir: str | Path) -> None:
    """Before anything is sent: docker is installed and its daemon answers (else one UsageError line); then the
    containers a killed run in this results directory left are removed."""
    if shutil.which("docker") is None:
        raise pytest.UsageError("the container suites need Docker and no docker command was found: install Docker "
                                "(Debian: apt-get install docker.io) and start its daemon")
    try:
        done = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                              timeout=30)
    except subprocess.TimeoutExpired:
        done = subprocess.CompletedProcess([], 1, "", "docker info did not answer in 30 s")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no answer"])[-1]
        raise pytest.UsageError(f"the container suites need a running Docker daemon and docker info says: {last} "
                                "(start it: dockerd, or systemctl start docker)")
    leftovers = _ids("--filter", f"label={OWNER_LABEL}={owner_id(results_dir)}")
    if leftovers:
        subprocess.run(["docker", "rm", "-f", "-v", *leftovers], capture_output=True, timeout=300)


def agent_network(owner: str) -> tuple[str, str]:
    """(name, gateway address) of the results directory's Docker network for agents that run inside their
    container (OpenHands): made once, kept for later runs. Its containers reach the host at the gateway, where
    the engine's proxy listens for them. Trials ask at once: one makes it, the others wait and read it."""
    with _network_lock:
        if owner not in _networks:
            _networks[owner] = _make_network(owner)
        return _networks[owner]


def _make_network(owner: str) -> tuple[str, str]:
    name = f"nemoeval-{owner}"
    inspect = ["docker", "network", "inspect", name, "--format", "{{range .IPAM.Config}}{{.Gateway}} {{end}}"]
    done = subprocess.run(inspect, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:  # another process may make it meanwhile: then its inspection below finds it
        subprocess.run(["docker", "network", "create", "--label", f"{OWNER_LABEL}={owner}", name],
                       capture_output=True, text=True, timeout=60)
        done = subprocess.run(inspect, capture_output=True, text=True, timeout=60, check=True)
    gateways = [address for address in done.stdout.split() if "." in address]
    if not gateways:
        raise RuntimeError(f"docker network {name} has no IPv4 gateway")
    return name, gateways[0]


def _ids(*filters: str) -> list[str]:
    done = subprocess.run(["docker", "ps", "-aq", *filters], capture_output=True, text=True, timeout=60)
    return done.stdout.split() if done.returncode == 0 else []


async def remove(owner: str, trial: str) -> None:
    """Remove a trial's containers (its process was killed before Harbor could)."""
    process = await asyncio.create_subprocess_exec(
        "docker", "ps", "-aq", "--filter", f"label={OWNER_LABEL}={owner}", "--filter", f"label={TRIAL_LABEL}={trial}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    out, _ = await process.communicate()
    if out.split():
        process = await asyncio.create_subprocess_exec("docker", "rm", "-f", "-v", *out.decode().split(),
                                                       stdout=asyncio.subprocess.DEVNULL,
                                                       stderr=asyncio.subprocess.DEVNULL)
        await process.wait()
