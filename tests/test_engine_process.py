"""The engine process: one per run, a live status line beside pytest's own, its death never hangs a run."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

from helpers import results


def engine_processes(bench: pytest.Pytester) -> list[psutil.Process]:
    """Engine processes of the run in this test's directory (tests run in parallel)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if "pytest_nemoeval.engine" in command and str(bench.path) in command:
            found.append(process)
    return found


def start(bench: pytest.Pytester, mock, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pytest", "suites/", "--endpoint", mock.url, "--data-dir", "data",
                             "--no-cache", *args], cwd=bench.path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


# pytest's own progress lines: "suites/test_mmlu_pro.py ...i.  [ 40%]" (under xdist without the file name)
PYTEST_PROGRESS = re.compile(r"^(?:suites/test_mmlu_pro\.py )?([.iFEs]+)(?: +\[ *\d+%\])?$")


@pytest.mark.parametrize("xdist", [pytest.param([], id="no-xdist"), pytest.param(["-n", "2"], id="n2")])
def test_status_line_is_live_and_keeps_pytests_lines_intact(bench, mock_server, xdist):
    mock = mock_server("--latency", "1")
    process = start(bench, mock, "--limit-samples", "9", "--parallelism", "1", *xdist)  # about 9 s
    seen: list[tuple[str, bool]] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append((line.rstrip("\n"), process.poll() is None))

    reader = threading.Thread(target=read)
    reader.start()
    process.wait(timeout=120)
    reader.join()
    assert process.returncode == 0, seen
    progress = [(line, running) for line, running in seen if "nemoeval: generated" in line]
    assert len(progress) >= 2, seen
    assert progress[0][1], "the first status line arrived only after the run ended"
    assert "nemoeval: generated 9/9 (0 cached)" in progress[-1][0] and "0 errors" in progress[-1][0]
    # each status line is a line of its own; pytest's lines around it are whole
    assert all(line.startswith("nemoeval: generated") for line, _ in progress), progress
    lines = [line for line, _ in seen]
    theirs = [i for i, line in enumerate(lines) if PYTEST_PROGRESS.match(line)]
    assert theirs, lines
    between = lines[theirs[0]:theirs[-1] + 2]  # pytest's outcome lines, with the last status line after them
    assert all(PYTEST_PROGRESS.match(line) or line.startswith("nemoeval: generated") for line in between), between
    outcomes = "".join(PYTEST_PROGRESS.match(line).group(1) for line in between if PYTEST_PROGRESS.match(line))
    assert len(outcomes) == 9, between  # each outcome shown once


def test_status_lines_during_a_long_wait_do_not_repeat_pytests_line(bench, mock_server):
    """An item waiting through several status lines: they follow one another; pytest's line is begun again
    once, when the item's outcome comes, not after each of them."""
    mock = mock_server("--latency", "11")
    process = start(bench, mock, "--limit-samples", "2", "--parallelism", "1")  # about 22 s
    out, _ = process.communicate(timeout=120)
    lines = out.splitlines()
    status = [i for i, line in enumerate(lines) if line.startswith("nemoeval: generated")]
    assert any(b == a + 1 for a, b in zip(status, status[1:])), lines  # two in a row while waiting
    assert sum(line.startswith("suites/test_mmlu_pro.py") for line in lines) <= 3, lines
    theirs = [line for line in lines if PYTEST_PROGRESS.match(line.rstrip())]
    assert len("".join(PYTEST_PROGRESS.match(line.rstrip()).group(1) for line in theirs)) == 2, lines


def test_qq_has_no_status_line(bench, mock_server):
    mock = mock_server()
    result = bench.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data", "-qq",
                                        "--limit-samples", "3")
    assert result.ret == 0
    assert "nemoeval: generated" not in result.stdout.str() + result.stderr.str()


def test_killed_engine_fails_the_waiting_items_instead_of_hanging(bench, mock_server):
    mock = mock_server("--latency", "0.5")
    process = start(bench, mock, "--limit-samples", "20", "--parallelism", "1")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and mock.chat_requests() < 3:
        time.sleep(0.1)
    (engine,) = engine_processes(bench)
    engine.send_signal(signal.SIGKILL)
    output, errors = process.communicate(timeout=60)
    assert process.returncode == pytest.ExitCode.TESTS_FAILED, output + errors
    assert "generation engine exited (status -9) before answering this item" in output
    entry = results(bench)["benchmarks"]["mmlu_pro"]
    assert entry["items"] == 20 and 10 < entry["errors"] < 20  # the answered ones were scored, the rest failed


def test_one_engine_process_per_run_under_xdist(bench, mock_server):
    mock = mock_server("--latency", "0.5")
    process = start(bench, mock, "--limit-samples", "8", "--parallelism", "1", "-n", "2")
    counts = []
    while process.poll() is None:
        counts.append(len(engine_processes(bench)))
        time.sleep(0.2)
    process.communicate()
    assert process.returncode == 0
    assert max(counts) == 1
    assert mock.chat_requests() == 8
    assert not engine_processes(bench)


def test_engine_dies_with_a_killed_pytest(bench, mock_server):
    mock = mock_server("--latency", "0.5")
    process = start(bench, mock, "--limit-samples", "20", "--parallelism", "1")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and mock.chat_requests() < 2:
        time.sleep(0.1)
    (engine,) = engine_processes(bench)
    process.kill()  # pytest alone, not its process group
    process.communicate()
    engine.wait(timeout=10)  # psutil.TimeoutExpired if it outlived its parent
    sent = mock.chat_requests()
    time.sleep(1.5)
    assert mock.chat_requests() == sent  # and nothing is sent any more
