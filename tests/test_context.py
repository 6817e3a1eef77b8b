"""The context check: a request that cannot fit the served model's context is not sent and counts as wrong with
no answer (context_overflow, not an error); one that fits is sent; on vLLM-like and llama.cpp-like servers."""

from __future__ import annotations

import json

import pytest

from helpers import results, samples

SUITE = '''
from pytest_nemoeval import Suite, HubDataset


async def one_request(sample, chat):
    return await chat(chat.messages)


suite = Suite(name="lengths", data=HubDataset("made/up"), prompt=lambda row: row["text"],
              generation={"max_new_tokens": 16}, driver=one_request if DRIVER else None)


def test_lengths(sample, response, verdict):
    verdict(response.text == "B", answer=response.text, expected="B")
'''
# words are tokens on the mock (a message adds 2): 5, 150 and 400 words against a window of 200
ROWS = [{"text": "word " * 5}, {"text": "word " * 150}, {"text": "word " * 400}]


@pytest.fixture
def project(pytester: pytest.Pytester):
    def make(driver: bool) -> pytest.Pytester:
        (pytester.path / "suites").mkdir(exist_ok=True)
        (pytester.path / "suites" / "test_lengths.py").write_text(f"DRIVER = {driver}\n" + SUITE)
        (pytester.path / "data").mkdir(exist_ok=True)
        (pytester.path / "data" / "lengths.jsonl").write_text("".join(json.dumps(row) + "\n" for row in ROWS))
        return pytester

    return make


@pytest.mark.parametrize("server,driver", [("vllm", False), ("llama", False), ("vllm", True)])
def test_a_prompt_beyond_the_context_is_not_sent_and_counts_as_wrong(project, mock_server, server, driver):
    bench = project(driver)
    mock = mock_server("--answer", "B", "--context", "200", "--context-server", server)
    result = bench.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data", "--no-cache")
    result.stdout.fnmatch_lines(["*lengths: accuracy 0.6667*errors=0 context_overflow=1*",
                                 "lengths: 1 item(s) did not fit the model's context and were not sent*over by 218*"])
    assert result.ret == 0
    assert mock.stats()["chat_requests"] == 2  # the two that fit
    entry = results(bench)["benchmarks"]["lengths"]
    assert entry["context_overflow"] == 1 and entry["errors"] == 0
    assert entry["metrics"]["error_rate"]["value"] == 0.0
    assert entry["metrics"]["no_answer"]["value"] == pytest.approx(1 / 3)
    rows = {row["sample_id"]: row for row in samples(bench, "lengths")}
    assert rows[2]["verdict"] == "incorrect" and rows[2]["extracted"] is None
    # 400 words and the message's 2 markers, and 16 to generate
    assert rows[2]["context_overflow"] == (
        "context overflow: the prompt is 402 tokens and 16 are to be generated: 418 > the maximum context length "
        "of 200 tokens, over by 218")
    assert "context_overflow" not in rows[1] and rows[1]["verdict"] == "correct"


def test_context_length_option_and_the_servers_own_refusal(project, mock_server):
    bench = project(False)
    mock = mock_server("--answer", "B", "--context", "200")
    # told a smaller window than the server's: the 150-word prompt is not sent either
    result = bench.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data", "--no-cache",
                                        "--context-length", "100")
    result.stdout.fnmatch_lines(["*errors=0 context_overflow=2*"])
    assert mock.stats()["chat_requests"] == 1
    # told a larger one: the long prompt is sent, and the server's 400 is the same soft-fail, not retried
    result = bench.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data", "--no-cache",
                                        "--context-length", "100000")
    result.stdout.fnmatch_lines(["*errors=0 context_overflow=1*"])
    assert mock.stats()["chat_requests"] == 1 + 3
    (row,) = [row for row in samples(bench, "lengths") if row.get("context_overflow")]
    assert "the server refused the request: This model's maximum context length is 200 tokens." in row["context_overflow"]


def test_a_small_prompt_is_not_tokenized(project, mock_server):
    bench = project(False)
    mock = mock_server("--answer", "B", "--context", "100000")
    result = bench.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data", "--no-cache")
    result.stdout.fnmatch_lines(["*3 correct*"])
    assert mock.stats()["tokenize_requests"] == 0 and mock.stats()["chat_requests"] == 3


def test_a_lanes_reply_cap_bounds_every_request_it_sends(tmp_path, mock_server):
    """The embedded model's lanes cap max_tokens (whatever a suite, judge or simulated user asks for), before
    the context check, so a 32K budget neither runs for hours nor counts as an overflow of its 8K context."""
    import asyncio

    from pytest_nemoeval.engine.loop import GenerationEngine, Lane
    from pytest_nemoeval.engine.store import ResponseStore

    mock = mock_server("--answer", "asked {max_tokens}", "--context", "200")
    store = ResponseStore(tmp_path / "cache.sqlite", "run")
    asks = {"big": 32768, "small": 5, "unset": None}
    store.publish_plan((name, "hash", {"model": "mock-model", "messages": [{"role": "user", "content": "hi"}],
                                       **({"max_tokens": ask} if ask else {})}) for name, ask in asks.items())
    lanes = [Lane("model", f"{mock.url}/v1", "NO_KEY", 4, max_tokens=64)]
    asyncio.run(GenerationEngine(lanes, store, request_timeout=30, max_retries=0, settings={}).run())
    assert {name: store.get(name)["content"] for name in asks} == {
        "big": "asked 64", "small": "asked 5", "unset": "asked 64"}
