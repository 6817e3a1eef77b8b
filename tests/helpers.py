"""What the tests share that is not a fixture: paths, the mock server's handle, result readers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

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
        return self.stats()["chat_requests"]

    def stats(self) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.url}/stats", timeout=5) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def copy_suites(pytester: pytest.Pytester, *names: str) -> None:
    """suites/ in a pytester project, with this repo's suite modules test_<name>.py."""
    (pytester.path / "suites").mkdir()
    for name in names:
        shutil.copy(ROOT / "suites" / f"test_{name}.py", pytester.path / "suites")


class RunProcesses:
    """The processes a test's pytest run started (server, launcher, engine), found by an environment tag
    they inherit: tests and other runs in parallel never count."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def alive(self, contains: str = "") -> list:
        import psutil

        found = []
        for process in psutil.process_iter(["cmdline"]):
            try:
                if (process.environ().get("NEMOEVAL_TEST_TAG") == self.tag
                        and contains in " ".join(process.info["cmdline"] or [])
                        and process.status() != psutil.STATUS_ZOMBIE):
                    found.append(process)
            except psutil.Error:
                continue
        return found

    def wait_gone(self, timeout: float = 20.0) -> list:
        deadline = time.monotonic() + timeout
        while (left := self.alive()) and time.monotonic() < deadline:
            time.sleep(0.2)
        return left


def as_from_a_terminal(sigint: object = signal.SIG_DFL) -> None:
    """In the child before exec: its own process group (as a shell's job, which a terminal's Ctrl-C reaches
    as a whole), and SIGINT handled by default, whatever this test process inherited (CI may run it in the
    background, with SIGINT ignored or blocked)."""
    os.setpgrp()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    signal.signal(signal.SIGINT, sigint)


class CpuLoad:
    """Busy loops on every core: another heavy run beside this one."""

    def __init__(self) -> None:
        self.processes = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                          for _ in range(os.cpu_count() or 2)]

    def stop(self) -> None:
        for process in self.processes:
            process.kill()
            process.wait()


def containers_ready() -> str | None:
    """Why the container suites cannot run here (None: they can): Docker, its daemon, a Python for Harbor, and
    the static busybox the example tasks' image busybox:1.35 is made from (examples/busybox_image.py)."""
    from pytest_nemoeval.venvs import python312

    if shutil.which("docker") is None:
        return "no docker command (apt-get install docker.io)"
    if subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode != 0:
        return "no Docker daemon answers (start dockerd)"
    if python312() is None:
        return "Harbor needs Python 3.12 or 3.13 and none was found"
    if shutil.which("busybox") is None and not Path("/bin/busybox").exists():
        return "no static busybox to make the tasks' image from (apt-get install busybox-static)"
    sys.path.insert(0, str(ROOT / "examples"))
    from busybox_image import build

    try:
        build()
    except (SystemExit, subprocess.CalledProcessError) as exc:
        return f"could not make busybox:1.35: {exc}"
    return None


def lm_eval_reference() -> list[dict]:
    """lm-evaluation-harness's own scores of examples/data (tests/data/lm_eval_reference.jsonl, see its README)."""
    path = ROOT / "tests" / "data" / "lm_eval_reference.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def with_reference(pytester: pytest.Pytester, name: str) -> list[tuple[dict, dict]]:
    """(sample record, lm_eval_reference entry of the same row) for each item of a base-model suite's run."""
    from pytest_nemoeval.suite import load_suite_module

    suite = load_suite_module(str(ROOT / "suites" / f"test_{name}.py")).suite
    rows = [json.loads(line) for line in (ROOT / "examples" / "data" / f"{name}.jsonl").read_text().splitlines()]
    index_of = {str(suite.sample_id(row, index)): index for index, row in enumerate(rows)}
    expected = {entry["index"]: entry for entry in lm_eval_reference() if entry["suite"] == name}
    return [(sample, expected[index_of[str(sample["sample_id"])]]) for sample in samples(pytester, name)]


def argmax(values: list[float]) -> int:
    return max(range(len(values)), key=lambda index: (values[index], -index))


def mmlu_answers(limit: int) -> list[str]:
    rows = [json.loads(line) for line in MMLU_DATA.read_text().splitlines()]
    return [row["answer"] for row in rows[:limit]]


def results(pytester: pytest.Pytester, results_dir: str = "results") -> dict:
    return json.loads((pytester.path / results_dir / "results.json").read_text())


def samples(pytester: pytest.Pytester, benchmark: str = "mmlu_pro", results_dir: str = "results") -> list[dict]:
    path = pytester.path / results_dir / benchmark / "samples.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]
