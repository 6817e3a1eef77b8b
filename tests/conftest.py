"""Fixtures of the test suite; what the tests share besides fixtures is in helpers.py."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest

from helpers import MMLU_DATA, MockServer, RunProcesses, copy_suites

pytest_plugins = ["pytester"]
TEST_TIMEOUT = 300  # a hung test fails after this many seconds instead of hanging CI


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # here, not in the ini file: benchmark items in suites/ wait as long as generation takes
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT))


@pytest.fixture
def mock_server() -> Iterator[Callable[..., MockServer]]:
    """Start scripted mock servers: mock_server("--fault", "429:2", "--latency", "0.05")."""
    started: list[MockServer] = []

    def start(*args: str) -> MockServer:
        server = MockServer(list(args))
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def bench(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory laid out like a user project: suites/ with MMLU-Pro and data/ with 20 rows."""
    copy_suites(pytester, "mmlu_pro")
    (pytester.path / "data").mkdir()
    shutil.copy(MMLU_DATA, pytester.path / "data" / "mmlu_pro.jsonl")
    return pytester


@pytest.fixture
def run_processes(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunProcesses]:
    """Tag the processes of this test's runs; fail the test if any outlives it."""
    tag = uuid.uuid4().hex
    monkeypatch.setenv("NEMOEVAL_TEST_TAG", tag)
    processes = RunProcesses(tag)
    yield processes
    left = processes.wait_gone()
    for process in left:
        process.kill()
    assert not left, f"left behind: {[' '.join(p.cmdline()) for p in left]}"


