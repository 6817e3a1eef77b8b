"""The engine against injected faults: retries, Retry-After, non-retryable 4xx, fail fast, secrets."""

from __future__ import annotations

import time

import pytest

from helpers import results


def run(bench: pytest.Pytester, mock, *args: str) -> pytest.RunResult:
    return bench.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data", "--no-cache", *args)


@pytest.mark.parametrize("fault", ["500:2", "reset:2", "garbage:2", "empty:2"])
def test_transient_faults_are_retried_until_success(bench, mock_server, fault):
    mock = mock_server("--fault", fault)
    result = run(bench, mock, "--limit-samples", "1", "--max-retries", "3")
    result.stdout.fnmatch_lines(["*1 correct in*"])
    assert mock.chat_requests() == 3


def test_429_honours_retry_after(bench, mock_server):
    mock = mock_server("--fault", "429:2")  # each 429 says Retry-After: 1
    started = time.monotonic()
    result = run(bench, mock, "--limit-samples", "1", "--max-retries", "3")
    assert time.monotonic() - started >= 2.0
    result.stdout.fnmatch_lines(["*1 correct in*"])
    assert mock.chat_requests() == 3


def test_attempt_timeout_is_retried(bench, mock_server):
    mock = mock_server("--fault", "timeout:1")  # the first attempt hangs for 30 s
    started = time.monotonic()
    result = run(bench, mock, "--limit-samples", "1", "--request-timeout", "1", "--max-retries", "2")
    assert time.monotonic() - started < 20
    result.stdout.fnmatch_lines(["*1 correct in*"])
    assert mock.chat_requests() == 2


def test_4xx_is_not_retried_and_shows_the_server_message(bench, mock_server):
    mock = mock_server("--fault", "400:1")
    result = run(bench, mock, "--limit-samples", "1", "--max-retries", "5")
    result.stdout.fnmatch_lines(["*HTTP 400 from *: max_tokens is too large for this model*"])
    assert result.ret == 1
    assert mock.chat_requests() == 1


def test_gives_up_after_max_retries(bench, mock_server):
    mock = mock_server("--fault", "500:10")
    result = run(bench, mock, "--limit-samples", "1", "--max-retries", "1")
    result.stdout.fnmatch_lines(["*HTTP 500: internal error (gave up after 2 attempts)*"])
    assert mock.chat_requests() == 2


def test_dead_endpoint_fails_remaining_items_fast_and_keeps_results(bench, mock_server):
    mock = mock_server("--die-after", "5", "--latency", "0.05")
    started = time.monotonic()
    result = run(bench, mock, "--limit-samples", "20", "--parallelism", "1", "--max-retries", "10")
    assert time.monotonic() - started < 60
    result.stdout.fnmatch_lines(["*endpoint http://127.0.0.1:*/v1/chat/completions is down: * connection failures*"])
    result.stdout.fnmatch_lines(["*Interrupted: endpoint http://127.0.0.1:*/v1/chat/completions is down*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED
    entry = results(bench)["benchmarks"]["mmlu_pro"]
    assert entry["items"] == 6 and entry["errors"] == 1  # 5 answered, then one item names the reason


def test_dead_endpoint_under_xdist_stops_every_worker(bench, mock_server):
    mock = mock_server("--die-after", "5", "--latency", "0.05")
    started = time.monotonic()
    result = run(bench, mock, "--limit-samples", "20", "--parallelism", "1", "--max-retries", "10", "-n", "2")
    assert time.monotonic() - started < 60
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*endpoint http://127.0.0.1:*/v1/chat/completions is down: * connection failures*"])
    entry = results(bench)["benchmarks"]["mmlu_pro"]
    assert entry["items"] - entry["errors"] == 5 and 1 <= entry["errors"] <= 2  # each worker names the reason once


def test_api_key_never_appears_in_output_or_files(bench, mock_server, monkeypatch):
    secret = "sk-test-SECRET-4242"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    mock = mock_server("--require-key", secret, "--fault", "401:1")  # the 401 echoes the key it got
    result = run(bench, mock, "--limit-samples", "2", "--parallelism", "1")
    result.stdout.fnmatch_lines(["*HTTP 401 from *: Incorrect API key provided: [*][*][*]"])
    assert secret not in result.stdout.str() + result.stderr.str()
    for path in (bench.path / "results").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_missing_api_key_is_one_clear_line(bench, mock_server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    mock = mock_server("--require-key", "sk-needed")
    result = run(bench, mock, "--limit-samples", "1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --endpoint * refused access (HTTP 401): set the environment variable OPENAI_API_KEY"])
    assert not (bench.path / "results" / "results.json").exists()
