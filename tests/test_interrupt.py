"""Ctrl-C and SIGTERM stop a run within seconds (with and without xdist, also on a loaded machine), leave no
process behind and keep every answer for the next run; a run that ignores SIGINT (a background job) goes
on; two runs never share a results directory."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from helpers import CpuLoad, as_from_a_terminal, results

pytestmark = pytest.mark.usefixtures("run_processes")  # no process of a run may outlive it

ITEMS = 12


def start(bench: pytest.Pytester, mock, *args: str, sigint: object = signal.SIG_DFL) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pytest", "suites/", "--endpoint", mock.url, "--data-dir", "data",
                             "--limit-samples", str(ITEMS), "--parallelism", "2", "-p", "no:cacheprovider", *args],
                            cwd=bench.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: as_from_a_terminal(sigint))


def wait_for_requests(mock, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while mock.chat_requests() < count:
        assert time.monotonic() < deadline, f"fewer than {count} requests in {timeout} s"
        time.sleep(0.05)


def cached_responses(bench: pytest.Pytester) -> int:
    with sqlite3.connect(bench.path / "results" / ".nemoeval" / "cache.sqlite") as connection:
        return connection.execute("SELECT count(*) FROM responses").fetchone()[0]


@pytest.mark.timeout(240)
@pytest.mark.parametrize(("sig", "load"), [pytest.param(signal.SIGINT, False, id="SIGINT"),
                                           pytest.param(signal.SIGINT, True, id="SIGINT-loaded"),
                                           pytest.param(signal.SIGTERM, False, id="SIGTERM")])
@pytest.mark.parametrize("xdist", [pytest.param([], id="no-xdist"), pytest.param(["-n", "2"], id="n2")])
def test_a_signal_to_the_process_group_stops_the_run_and_a_rerun_resumes(bench, mock_server, xdist, sig, load):
    mock = mock_server("--latency", "1.5")
    cpu = CpuLoad() if load else None
    try:
        process = start(bench, mock, *xdist)
        wait_for_requests(mock, 4)  # two answered, two in flight
        os.killpg(process.pid, sig)  # what a terminal's Ctrl-C does: the signal to every process of the job
        started = time.monotonic()
        try:
            output, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            pytest.fail(f"no exit within 60 s of {sig.name}:\n{output[-4000:]}")
        stopped_in = time.monotonic() - started
    finally:
        if cpu is not None:
            cpu.stop()
    assert stopped_in < (20 if load else 10), output
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert f"nemoeval: interrupted by {sig.name}" in output and "results.json was not written" in output, output
    assert not (bench.path / "results" / "results.json").exists()  # a partial run is no result

    sent, kept = mock.chat_requests(), cached_responses(bench)
    assert 2 <= kept < ITEMS
    rerun = bench.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data",
                                       "--limit-samples", str(ITEMS), "--parallelism", "4")
    assert rerun.ret == 0, rerun.stdout.str()
    assert mock.chat_requests() - sent == ITEMS - kept  # what was answered is not sent again
    assert results(bench)["benchmarks"]["mmlu_pro"]["items"] == ITEMS


@pytest.mark.parametrize("xdist", [pytest.param([], id="no-xdist"), pytest.param(["-n", "2"], id="n2")])
def test_a_run_that_ignores_sigint_goes_on_to_the_end(bench, mock_server, xdist):
    """A background job ignores the terminal's Ctrl-C: so do its engine and its workers, and it completes."""
    mock = mock_server("--latency", "0.5")
    process = start(bench, mock, *xdist, sigint=signal.SIG_IGN)
    wait_for_requests(mock, 3)
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    assert results(bench)["benchmarks"]["mmlu_pro"]["items"] == ITEMS


@pytest.mark.parametrize("xdist", [pytest.param([], id="no-xdist"), pytest.param(["-n", "2"], id="n2")])
def test_a_second_run_into_a_results_directory_in_use_is_refused(bench, mock_server, xdist):
    mock = mock_server("--latency", "4")  # the first run lasts about 25 s
    first = start(bench, mock)
    wait_for_requests(mock, 2)
    second = bench.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data", *xdist)
    assert second.ret == pytest.ExitCode.USAGE_ERROR
    second.stderr.fnmatch_lines([f"ERROR: --results-dir {bench.path / 'results'} is in use by another run "
                                 f"(pid {first.pid}, started *): wait for it to end, or pass another --results-dir"])
    output, _ = first.communicate(timeout=120)
    assert first.returncode == 0, output  # the first run's results are its own
    entry = results(bench)["benchmarks"]["mmlu_pro"]
    assert entry["items"] == ITEMS and entry["errors"] == 0


def test_a_lock_left_by_a_killed_run_does_not_block_the_next(bench, mock_server):
    mock = mock_server("--latency", "0.5")
    first = start(bench, mock)
    wait_for_requests(mock, 2)
    os.killpg(first.pid, signal.SIGKILL)
    first.communicate()
    assert (bench.path / "results" / ".nemoeval" / "run.lock").exists()
    rerun = bench.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data",
                                       "--limit-samples", str(ITEMS))
    assert rerun.ret == 0, rerun.stdout.str() + rerun.stderr.str()


def test_runs_into_other_results_directories_run_side_by_side(bench, mock_server):
    mock = mock_server("--latency", "0.2")
    first = start(bench, mock, "--results-dir", "one")
    second = start(bench, mock, "--results-dir", "two")
    for process in (first, second):
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 0, output
    for name in ("one", "two"):
        assert results(bench, name)["benchmarks"]["mmlu_pro"]["items"] == ITEMS


def test_a_session_without_benchmark_items_claims_no_results_directory(pytester):
    """The plugin is on in every pytest run of its environment: a project's own tests neither create results/
    nor wait for a benchmark running beside them."""
    from pytest_nemoeval import flock

    pytester.makepyfile(test_plain="def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess("test_plain.py")
    assert result.ret == 0 and not (pytester.path / "results").exists()
    held = flock.try_hold(pytester.path / "results" / ".nemoeval" / "run.lock", "pid 1, started now")
    try:
        assert pytester.runpytest_subprocess("test_plain.py").ret == 0
    finally:
        held.release()


def test_an_interrupt_that_lands_on_a_frame_without_a_line_is_still_reported():
    """CPython 3.11 gives some frames no line number (a signal landing in a `with` statement's __enter__ did, in
    CI): pytest's report of the interrupt would fail on it and the run exit 1; the entry is taken out."""
    from types import SimpleNamespace

    from pytest_nemoeval.session.interrupt import drop_lineless_frames

    last = SimpleNamespace(tb_lineno=7, tb_next=None)
    lineless = SimpleNamespace(tb_lineno=None, tb_next=last)
    first = SimpleNamespace(tb_lineno=3, tb_next=SimpleNamespace(tb_lineno=None, tb_next=lineless))
    drop_lineless_frames(first)
    assert first.tb_next is last and last.tb_next is None
