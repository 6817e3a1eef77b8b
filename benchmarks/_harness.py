"""Shared by the benchmark scripts: a mock endpoint process, a synthetic project, a measured pytest run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_ROWS = [json.loads(line) for line in (ROOT / "examples" / "data" / "mmlu_pro.jsonl").read_text().splitlines()]


class Mock:
    """tests/mockserver.py in its own process: `with Mock("--latency", "0.1") as mock: mock.url`."""

    def __init__(self, *args: str) -> None:
        self.args = list(args)

    def __enter__(self) -> "Mock":
        self.process = subprocess.Popen([sys.executable, str(ROOT / "tests" / "mockserver.py"), *self.args],
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.process.stdout.readline().split()[1])}"
        return self

    def requests(self) -> int:
        with urllib.request.urlopen(f"{self.url}/stats", timeout=10) as response:
            return json.loads(response.read())["chat_requests"]

    def __exit__(self, *exc: object) -> None:
        self.process.kill()
        self.process.wait()


@contextmanager
def project(rows: int) -> Iterator[Path]:
    """A temporary user project: suites/test_mmlu_pro.py and data/mmlu_pro.jsonl with `rows` rows."""
    directory = Path(tempfile.mkdtemp(prefix="nemoeval-bench-"))
    try:
        (directory / "suites").mkdir()
        shutil.copy(ROOT / "suites" / "test_mmlu_pro.py", directory / "suites")
        (directory / "data").mkdir()
        with open(directory / "data" / "mmlu_pro.jsonl", "w") as handle:
            for index in range(rows):
                row = dict(EXAMPLE_ROWS[index % len(EXAMPLE_ROWS)], question_id=index)
                row["question"] = f"[{index}] {row['question']}"  # distinct prompts, distinct cache keys
                handle.write(json.dumps(row) + "\n")
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class Run:
    wall: float
    returncode: int
    peak_rss_mb: float
    output: str


def run_pytest(cwd: Path, *args: str) -> Run:
    """One `python -m pytest` process; wall time and its peak RSS (from wait4, not sampled)."""
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                                   cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        return Run(wall, process.returncode, usage.ru_maxrss / 1024, out.read())


def check(run: Run) -> Run:
    if run.returncode not in (0, 1):
        raise SystemExit(f"pytest failed ({run.returncode}):\n{run.output[-3000:]}")
    return run
