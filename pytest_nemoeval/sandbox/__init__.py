"""Run untrusted (model-written) Python: one child process per run, contained.

Each run gets a fresh temporary directory (also its HOME and TMPDIR), an environment with nothing of
ours in it (no API keys, no proxies), resource limits (CPU seconds, address space, file size, processes),
a wall-clock timeout after which its whole process group is killed, and stdout/stderr capped. Where
unprivileged user namespaces are allowed (most Linux), it also gets no network, a read-only file tree
except its directory, and its own PID namespace, so nothing it starts outlives it (child.py).
Elsewhere it runs without that isolation after one warning, or not at all with --sandbox-strict.
At most --sandbox-workers runs at once: the engine process calls `configure(settings)` when it starts.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

INIT = Path(__file__).with_name("child.py")
# what the program's environment holds: nothing inherited from ours
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "PYTHONIOENCODING": "utf-8", "PYTHONDONTWRITEBYTECODE": "1",
            # one thread each: BLAS thread pools reserve address space the memory limit would refuse
            "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_DRAIN_AFTER_EXIT = 1.0  # seconds to collect output left in the pipes once the program is gone


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 10.0      # per run; whole process group killed after it
    cpu_seconds: int = 10
    memory_bytes: int = 2 * 2**30   # RLIMIT_AS
    file_bytes: int = 64 * 2**20    # RLIMIT_FSIZE
    processes: int = 64             # RLIMIT_NPROC (best effort)
    output_bytes: int = 1 * 2**20   # stdout/stderr each truncated to this


@dataclass(frozen=True)
class ExecResult:
    status: str            # "ok" (exit 0) | "error" (non-zero exit) | "timeout" | "killed" (signal, e.g. memory)
    returncode: int | None
    stdout: str
    stderr: str
    wall_seconds: float


class SandboxError(Exception):
    """The sandbox cannot run as configured (e.g. --sandbox-strict without isolation); one line."""


@dataclass
class _State:
    workers: int = os.cpu_count() or 1
    strict: bool = False
    isolation: tuple[bool, str] | None = None  # (available, reason), probed once per process
    warned: bool = False


_state = _State()
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def configure(settings: dict[str, Any] | int) -> None:
    """Size the concurrency bound from the run settings (`sandbox_workers`, `sandbox_strict`) or a number;
    the bound is rebuilt only when the number changes."""
    if isinstance(settings, int):
        workers = settings
    else:
        workers = int(settings.get("sandbox_workers") or os.cpu_count() or 1)
        _state.strict = bool(settings.get("sandbox_strict"))
    if workers != _state.workers:
        _state.workers = workers
        _slots.clear()


def sandbox_slots() -> asyncio.Semaphore:
    """The running loop's bound on concurrent runs (created lazily: a semaphore belongs to one loop)."""
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        slots = _slots[loop] = asyncio.Semaphore(_state.workers)
    return slots


def isolation() -> tuple[bool, str]:
    """Can runs get their own network, mount and PID namespaces here? (available, reason if not)"""
    if _state.isolation is None:
        if not sys.platform.startswith("linux"):
            _state.isolation = (False, f"namespaces need Linux, this is {sys.platform}")
        else:
            with tempfile.TemporaryDirectory(prefix="nemoeval-probe-") as workdir:
                probe = subprocess.run([sys.executable, "-S", str(INIT), "--probe", workdir], cwd=workdir,
                                       env=BASE_ENV, capture_output=True, text=True, timeout=30)
            reason = probe.stdout.strip() or probe.stderr.strip()[-200:] or f"exit status {probe.returncode}"
            _state.isolation = (probe.returncode == 0, reason)
    return _state.isolation


def _check_isolation() -> bool:
    available, reason = isolation()
    if available:
        return True
    message = (f"the code sandbox cannot isolate programs here ({reason}: unprivileged user namespaces are "
               "unavailable)")
    if _state.strict:
        raise SandboxError(f"{message}; --sandbox-strict refuses to run model-written code without isolation "
                           "(allow them with `sysctl kernel.unprivileged_userns_clone=1` / "
                           "`kernel.apparmor_restrict_unprivileged_userns=0`, or drop --sandbox-strict)")
    if not _state.warned:
        _state.warned = True
        print(f"nemoeval: WARNING: {message}; model-written code runs with resource limits and a clean "
              "environment only, but with network access and the file system of this user "
              "(--sandbox-strict refuses instead)", file=sys.stderr, flush=True)
    return False


async def run_python(source: str, *, stdin: str = "", limits: Limits = Limits(),
                     files: dict[str, bytes] | None = None) -> ExecResult:
    """Run `source` with the current Python in a fresh temp dir (also HOME; `files` written into it first),
    scrubbed environment, rlimits, no network (new net namespace when available), bounded by
    sandbox_slots()."""
    isolate = _check_isolation()
    async with sandbox_slots():
        workdir = tempfile.mkdtemp(prefix="nemoeval-sandbox-")
        try:
            for name, content in (files or {}).items():
                target = Path(workdir, name)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
            Path(workdir, "main.py").write_text(source, encoding="utf-8")
            return await _run(workdir, stdin, limits, isolate)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


async def _run(workdir: str, stdin: str, limits: Limits, isolate: bool) -> ExecResult:
    spec = {"isolate": isolate, "workdir": workdir, "limits": asdict(limits)}
    env = {**BASE_ENV, "HOME": workdir, "TMPDIR": workdir}
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-S", str(INIT), json.dumps(spec), sys.executable, "-s", "main.py",
        cwd=workdir, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True)  # its own process group, killed as a whole
    assert process.stdin and process.stdout and process.stderr
    readers = [asyncio.ensure_future(_read_capped(stream, limits.output_bytes))
               for stream in (process.stdout, process.stderr)]
    feeder = asyncio.ensure_future(_feed(process.stdin, stdin.encode()))
    timed_out = False
    try:
        await asyncio.wait_for(process.wait(), limits.wall_seconds)
    except asyncio.TimeoutError:
        timed_out = True
    finally:  # also when cancelled (-x, Ctrl-C): nothing it started may outlive the run
        _kill_group(process.pid)
        feeder.cancel()
        if process.returncode is None:
            try:
                await asyncio.wait_for(process.wait(), _DRAIN_AFTER_EXIT)
            except asyncio.TimeoutError:
                pass
        done, pending = await asyncio.wait(readers, timeout=_DRAIN_AFTER_EXIT)
        for reader in pending:  # a stray process still holds the pipe (no PID namespace)
            reader.cancel()
    wall = time.monotonic() - started
    stdout, stderr = (reader.result() if reader in done else b"" for reader in readers)
    code = process.returncode
    status = "timeout" if timed_out else "ok" if code == 0 else "error" if code is not None and code > 0 else "killed"
    return ExecResult(status, None if timed_out else code, stdout.decode("utf-8", "replace"),
                      stderr.decode("utf-8", "replace"), wall)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


async def _read_capped(stream: asyncio.StreamReader, cap: int) -> bytes:
    """Keep the first `cap` bytes and drain the rest, so the program never blocks on a full pipe."""
    kept = bytearray()
    while chunk := await stream.read(1 << 16):
        if len(kept) < cap:
            kept += chunk[:cap - len(kept)]
    return bytes(kept)


async def _feed(pipe: asyncio.StreamWriter, data: bytes) -> None:
    try:
        if data:
            pipe.write(data)
            await pipe.drain()
        pipe.close()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the program did not read all its input
