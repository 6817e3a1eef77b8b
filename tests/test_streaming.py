"""Streamed chat requests: the same reply as a whole one, the same cache key, a fallback for servers that cannot
stream, a stalled stream is a timeout, and the status line counts a long request's time and tokens."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time

import pytest

from pytest_nemoeval.engine.loop import GenerationEngine, Lane
from pytest_nemoeval.engine.progress import Flight, Progress
from pytest_nemoeval.engine.store import ResponseStore

TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]


def generate(tmp_path, mock, payloads: dict[str, dict], stream: str = "on", timeout: float = 30,
             retries: int = 0) -> dict[str, dict]:
    """The engine's bodies (latency left out) of `payloads` sent to the mock, one at a time."""
    store = ResponseStore(tmp_path / f"store-{stream}-{time.monotonic_ns()}.sqlite", "run")
    store.publish_plan((key, "hash", payload) for key, payload in payloads.items())
    lanes = [Lane("model", f"{mock.url}/v1", "NO_KEY", 1)]
    engine = GenerationEngine(lanes, store, request_timeout=timeout, max_retries=retries, settings={"stream": stream})
    asyncio.run(engine.run())
    bodies = {key: store.get(key) for key in payloads}
    assert all(body is not None for body in bodies.values()), [store.failure(key) for key in payloads]
    return {key: {field: value for field, value in body.items() if field != "latency"} for key, body in bodies.items()}


def chat(text: str, **extra) -> dict:
    return {"model": "mock-model", "messages": [{"role": "user", "content": text}], **extra}


@pytest.mark.parametrize("reply", ["content", "empty", "reasoning", "tool_calls", "long_chunk"])
def test_a_streamed_reply_is_assembled_into_the_whole_reply(tmp_path, mock_server, reply):
    steps = tmp_path / "steps.json"
    steps.write_text(json.dumps([{"content": "The answer is B.\n\nAnswer: B", "reasoning": "Think: A is wrong,  B fits."}]))
    long_word = tmp_path / "long.json"  # one chunk of 200,000 characters: longer than aiohttp's line reader takes
    long_word.write_text(json.dumps([["", "x" * 200_000]]))
    args = {"content": ["--answer", "Several words,\n  with  spaces\tand lines. Answer: \\boxed{B}"],
            "empty": ["--answer", ""],
            "long_chunk": ["--answers", str(long_word)],
            "reasoning": ["--tool-steps", str(steps)],
            "tool_calls": ["--tool-call", 'lookup={"query": "a longer argument string", "n": 3}']}[reply]
    mock, twin = mock_server(*args), mock_server(*args)  # the same script (tool call ids count its requests)
    extra = {"tools": TOOLS} if reply == "tool_calls" else {}
    payloads = {"a": chat("first", **extra), "b": chat("second", **extra)}
    streamed = generate(tmp_path, mock, payloads, "on")
    whole = generate(tmp_path, twin, payloads, "off")
    assert streamed == whole
    assert twin.stats()["stream_requests"] == 0
    # a request offering tools is sent whole (its whole reply's content is "" or null by server, see streaming.py)
    assert mock.stats()["stream_requests"] == (0 if reply == "tool_calls" else 2)
    body = streamed["a"]
    assert body["completion_tokens"] == 5 and body["prompt_tokens"] == 10  # the usage chunk's
    assert body["finish_reason"] == ("tool_calls" if reply == "tool_calls" else "stop")
    expected = {"content": "Several words,\n  with  spaces\tand lines. Answer: \\boxed{B}", "empty": "",
                "reasoning": "The answer is B.\n\nAnswer: B", "tool_calls": None, "long_chunk": "x" * 200_000}[reply]
    assert body["content"] == expected
    if reply == "reasoning":
        assert body["reasoning_content"] == "Think: A is wrong,  B fits."


def test_the_cache_key_does_not_depend_on_streaming(bench, mock_server):
    mock = mock_server()
    first = bench.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data", "--limit-samples", "3",
                                       "--stream", "on")
    assert first.ret == 0 and mock.stats()["stream_requests"] == 3
    again = bench.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data", "--limit-samples", "3",
                                       "--stream", "off")
    assert again.ret == 0
    assert mock.chat_requests() == 3  # every reply of the streamed run came from the cache


def test_auto_streams_long_prompts_only(tmp_path, mock_server):
    mock = mock_server()
    bodies = generate(tmp_path, mock, {"short": chat("a short prompt"), "long": chat("word " * 6400)}, "auto")
    assert bodies["short"] == bodies["long"]
    assert mock.stats()["stream_requests"] == 1 and mock.chat_requests() == 2


def test_an_endpoint_that_refuses_streaming_is_sent_whole_from_then_on(tmp_path, mock_server):
    mock = mock_server("--no-stream")
    bodies = generate(tmp_path, mock, {name: chat(name) for name in "abc"})
    assert {body["content"] for body in bodies.values()} == {"The answer is B.\nAnswer: \\boxed{B}"}
    assert mock.stats()["stream_requests"] == 1 and mock.chat_requests() == 4  # one refusal, remembered


def test_a_stalled_stream_times_out_and_is_retried(tmp_path, mock_server):
    mock = mock_server("--fault", "stall:1")  # the first stream stops after its first chunk for 30 s
    started = time.monotonic()
    bodies = generate(tmp_path, mock, {"a": chat("a")}, timeout=1, retries=1)
    assert time.monotonic() - started < 15
    assert bodies["a"]["content"] == "The answer is B.\nAnswer: \\boxed{B}" and mock.chat_requests() == 2


def test_a_stalled_stream_without_retries_fails_as_a_timeout(tmp_path, mock_server):
    mock = mock_server("--fault", "stall:1")
    store = ResponseStore(tmp_path / "store.sqlite", "run")
    store.publish_plan([("a", "hash", chat("a"))])
    engine = GenerationEngine([Lane("model", f"{mock.url}/v1", "NO_KEY", 1)], store, request_timeout=1, max_retries=0,
                              settings={"stream": "on"})
    asyncio.run(engine.run())
    assert store.get("a") is None
    assert "no response within the request timeout (1 s)" in store.failure("a")[1]


def test_an_error_in_the_stream_is_retried(tmp_path, mock_server):
    mock = mock_server("--fault", "cut:1")
    bodies = generate(tmp_path, mock, {"a": chat("a")}, retries=1)
    assert bodies["a"]["content"] == "The answer is B.\nAnswer: \\boxed{B}" and mock.chat_requests() == 2


def test_a_long_stream_that_keeps_moving_is_not_cut_by_the_timeout(tmp_path, mock_server):
    mock = mock_server("--answer", " ".join(["word"] * 8), "--chunk-latency", "0.4")  # about 4 s, chunks 0.4 s apart
    bodies = generate(tmp_path, mock, {"a": chat("a")}, timeout=1.5)
    assert bodies["a"]["content"] == " ".join(["word"] * 8) and mock.chat_requests() == 1


def test_status_line_counts_in_flight_time_and_tokens(tmp_path):
    progress = Progress(5.0, tmp_path / "status", total=2)
    assert "in flight" not in progress.line(time.monotonic())
    with Flight(progress) as whole, Flight(progress) as streamed:
        whole.started -= 192  # in flight for 3m12s
        streamed.streaming = True
        progress._window = (time.monotonic() - 2, 0)
        streamed.generated(82)
        assert progress.line(time.monotonic()).endswith(", 2 in flight (oldest 3m12s), 41 tok/s")
        streamed.settle(80)  # the usage's exact count
        assert progress.streamed == 80
    assert "in flight" not in progress.line(time.monotonic())
    with Flight(progress):  # a whole request: no tokens to count, none shown
        progress.tick()
        assert progress.line(time.monotonic()).endswith(", 1 in flight (oldest 0s)")


def test_status_line_shows_a_slow_streamed_request_in_flight(bench, mock_server):
    mock = mock_server("--answer", " ".join(["word"] * 30) + " Answer: B", "--chunk-latency", "0.4")  # about 13 s
    process = subprocess.Popen([sys.executable, "-m", "pytest", "suites/", "--endpoint", mock.url, "--data-dir", "data",
                                "--no-cache", "--limit-samples", "1", "--stream", "on"], cwd=bench.path, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 0, out
    flying = [line for line in out.splitlines() if "in flight" in line]
    assert flying, out
    match = re.search(r"generated 0/1 .*, 1 in flight \(oldest (\d+)s\), (\d+) tok/s$", flying[0])
    assert match, flying
    assert 4 <= int(match.group(1)) <= 12 and 1 <= int(match.group(2)) <= 4, flying  # 2.5 words/s
