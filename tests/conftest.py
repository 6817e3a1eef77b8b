from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Callable, Iterator

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
MMLU_DATA = ROOT / "examples" / "data" / "mmlu_pro.jsonl"


class MockServer:
    def __init__(self, args: list[str]) -> None:
        self.process = subprocess.Popen([sys.executable, str(ROOT / "tests" / "mockserver.py"), *args],
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("PORT "), line
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def chat_requests(self) -> int:
        with urllib.request.urlopen(f"{self.url}/stats", timeout=5) as response:
            return json.loads(response.read())["chat_requests"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


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
    (pytester.path / "suites").mkdir()
    shutil.copy(ROOT / "suites" / "test_mmlu_pro.py", pytester.path / "suites" / "test_mmlu_pro.py")
    (pytester.path / "data").mkdir()
    shutil.copy(MMLU_DATA, pytester.path / "data" / "mmlu_pro.jsonl")
    return pytester


def mmlu_answers(limit: int) -> list[str]:
    rows = [json.loads(line) for line in MMLU_DATA.read_text().splitlines()]
    return [row["answer"] for row in rows[:limit]]


def results(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "results" / "results.json").read_text())


def samples(pytester: pytest.Pytester, benchmark: str = "mmlu_pro") -> list[dict]:
    path = pytester.path / "results" / benchmark / "samples.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]
