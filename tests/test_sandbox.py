"""The code sandbox: every escape the issue lists fails, and the next run goes on."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid

import psutil
import pytest

from pytest_nemoeval import sandbox
from pytest_nemoeval.sandbox import Limits, SandboxError, run_python

isolated = pytest.mark.skipif(not sandbox.isolation()[0],
                              reason=f"no user namespaces here: {sandbox.isolation()[1]}")
QUICK = Limits(wall_seconds=5.0, cpu_seconds=5)


def run(source: str, **kwargs) -> sandbox.ExecResult:
    return asyncio.run(run_python(source, **kwargs))


def still_works() -> None:
    result = run("print(input()[::-1])", stdin="olleh\n")
    assert (result.status, result.stdout) == ("ok", "hello\n")


def leftovers(token: str, wait: float = 3.0) -> list[psutil.Process]:
    """Processes whose command line carries `token`, after giving the kernel `wait` s to reap them."""
    deadline = time.monotonic() + wait
    while True:
        found = []
        for process in psutil.process_iter(["cmdline"]):
            if token in " ".join(process.info["cmdline"] or []):
                found.append(process)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@pytest.fixture(autouse=True)
def fresh_state(monkeypatch):
    monkeypatch.setattr(sandbox, "_state", sandbox._State(isolation=sandbox._state.isolation))


def test_runs_in_a_fresh_directory_that_is_home_and_is_removed(tmp_path):
    result = run("import os, pathlib\nprint(os.getcwd() == os.environ['HOME'], sorted(os.listdir()))\n"
                 "print(pathlib.Path('data/x.txt').read_text())\nprint(os.getcwd())", files={"data/x.txt": b"given"})
    assert result.status == "ok", result.stderr
    first, second, workdir = result.stdout.splitlines()
    assert first == "True ['data', 'main.py']" and second == "given"
    assert "nemoeval-sandbox-" in workdir and not os.path.exists(workdir)


def test_exit_statuses():
    assert run("raise SystemExit(3)").status == "error"
    assert run("raise ValueError('boom')").stderr.rstrip().endswith("ValueError: boom")
    assert run("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)").status == "killed"


def test_api_key_in_the_environment_is_out_of_reach(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-0123")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    source = """
import os, glob
found = [k for k, v in os.environ.items() if 'sk-secret' in v or 'proxy' in v.lower()]
for path in glob.glob('/proc/*/environ'):
    try:
        if b'sk-secret' in open(path, 'rb').read():
            found.append(path)
    except OSError:
        pass
print(found, sorted(os.environ))
"""
    result = run(source)
    assert result.status == "ok", result.stderr
    assert result.stdout.startswith("[] ") and "OPENAI_API_KEY" not in result.stdout
    still_works()


@isolated
def test_writing_outside_its_directory_fails(tmp_path):
    target = tmp_path / "escaped.txt"
    home = os.path.expanduser("~/nemoeval-escaped.txt")
    source = f"""
for path in [{str(target)!r}, {home!r}, '/tmp/nemoeval-escaped.txt']:
    try:
        open(path, 'w').write('pwned')
        print('wrote', path)
    except OSError as exc:
        print('refused', exc.errno)
"""
    result = run(source)
    assert result.status == "ok", result.stderr
    assert "wrote" not in result.stdout and result.stdout.count("refused") == 3
    assert not target.exists() and not os.path.exists(home) and not os.path.exists("/tmp/nemoeval-escaped.txt")
    still_works()


@isolated
def test_no_socket_reaches_the_host():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(0.5)
        port = server.getsockname()[1]
        source = f"""
import socket
try:
    socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'hi')
    print('connected')
except OSError as exc:
    print('refused', exc.errno)
"""
        result = run(source)
        assert result.stdout.startswith("refused"), result.stdout + result.stderr
        with pytest.raises(socket.timeout):
            server.accept()
    still_works()


def test_infinite_loop_is_stopped_at_the_wall_limit():
    result = run("while True: pass", limits=Limits(wall_seconds=1.0))
    assert result.status == "timeout" and result.returncode is None
    assert 1.0 <= result.wall_seconds < 4.0
    still_works()


def test_fork_bomb_is_contained():
    token = uuid.uuid4().hex
    source = f"import os  # {token}\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    result = run(f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {source!r}])",
                 limits=Limits(wall_seconds=2.0, processes=32))
    assert result.status == "timeout"
    assert leftovers(token) == []
    still_works()


def test_memory_bomb_is_refused():
    result = run("x = bytearray(8 * 2**30)\nprint('allocated')", limits=Limits(memory_bytes=512 * 2**20))
    assert result.status in ("error", "killed") and "allocated" not in result.stdout
    assert "MemoryError" in result.stderr or result.status == "killed"
    still_works()


def test_a_gigabyte_of_output_is_capped():
    source = "import sys\nchunk = 'x' * 2**20\nfor _ in range(1024):\n    sys.stdout.write(chunk)\nprint('done', file=sys.stderr)"
    result = run(source, limits=Limits(wall_seconds=30.0, output_bytes=2**16))
    assert len(result.stdout) == 2**16
    assert result.status in ("ok", "timeout")
    still_works()


def test_killing_the_parent_fails():
    source = f"""
import os, signal
for pid in (os.getppid(), {os.getpid()}):
    try:
        os.kill(pid, signal.SIGKILL)
        print('sent', pid)
    except (OSError, ValueError) as exc:
        print('refused', pid, type(exc).__name__)
"""
    result = run(source)
    # in its PID namespace, the parent's pid is 0 (its own group: the run dies) or another process
    assert result.status in ("ok", "killed", "error")
    assert psutil.Process(os.getpid()).is_running()
    still_works()


def test_background_processes_do_not_outlive_the_run():
    token = uuid.uuid4().hex
    source = f"""
import subprocess, sys
subprocess.Popen([sys.executable, '-c', 'import time  # {token}\\ntime.sleep(60)'], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print('started')
"""
    result = run(source)
    assert (result.status, result.stdout) == ("ok", "started\n")
    assert result.wall_seconds < 5.0
    if sandbox.isolation()[0]:  # without a PID namespace a process that left the group cannot be found
        assert leftovers(token) == []
    still_works()


def test_concurrent_runs_are_bounded_by_the_workers():
    sandbox.configure({"sandbox_workers": 2})

    async def four() -> float:
        started = time.monotonic()
        results = await asyncio.gather(*(run_python("import time; time.sleep(0.6)", limits=QUICK) for _ in range(4)))
        assert [r.status for r in results] == ["ok"] * 4
        return time.monotonic() - started

    assert asyncio.run(four()) >= 1.2  # two waves of two


def test_without_isolation_strict_refuses_and_otherwise_warns_once(capsys):
    sandbox._state.isolation = (False, "unshare: Operation not permitted")
    sandbox.configure({"sandbox_workers": 1, "sandbox_strict": True})
    with pytest.raises(SandboxError, match="--sandbox-strict refuses to run model-written code without isolation"):
        run("print(1)")
    sandbox.configure({"sandbox_workers": 1, "sandbox_strict": False})
    assert run("print(1)").stdout == "1\n"
    assert run("print(2)").stdout == "2\n"
    warnings = [line for line in capsys.readouterr().err.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and "unshare: Operation not permitted" in warnings[0]


def test_a_cancelled_run_leaves_nothing_behind():
    token = uuid.uuid4().hex

    async def cancel_midway() -> float:
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            sleeper = f"import time  # {token}\ntime.sleep(60)"
            await asyncio.wait_for(run_python(f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', "
                                              f"{sleeper!r}])"), 1.5)
        return time.monotonic() - started

    assert asyncio.run(cancel_midway()) < 5.0
    assert leftovers(token) == []
    still_works()
