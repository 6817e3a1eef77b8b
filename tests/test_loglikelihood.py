"""Base-model suites against the mock server's toy model (tests/lmserver.py): both log-likelihood server paths,
raw completions, slot pinning, retries, the cache, and the endpoints that cannot serve them."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from helpers import ROOT, copy_suites, results, samples

TOKEN = re.compile(r"\s*\S+|\s+")


def toy_loglikelihood(continuation: str) -> float:
    """The toy model's log-likelihood of a continuation: " the" -0.25, any other token -0.5 per character."""
    return sum(-0.25 if piece == " the" else -0.5 * len(piece) for piece in TOKEN.findall(continuation))


@pytest.fixture
def base(pytester: pytest.Pytester) -> pytest.Pytester:
    copy_suites(pytester, "openbookqa", "winogrande", "mmlu")
    (pytester.path / "data").mkdir()
    for name in ("openbookqa", "winogrande", "winogrande.fewshot", "mmlu", "mmlu.fewshot"):
        shutil.copy(ROOT / "examples" / "data" / f"{name}.jsonl", pytester.path / "data")
    return pytester


def run(base: pytest.Pytester, mock, *args: str) -> pytest.RunResult:
    return base.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data", *args)


def rows(name: str, limit: int) -> list[dict]:
    lines = (ROOT / "examples" / "data" / f"{name}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines[:limit]]


@pytest.mark.parametrize("lm, method", [("vllm", "echo"), ("llama", "teacher_forcing")])
def test_both_server_paths_give_the_hand_computed_scores(base, mock_server, lm, method):
    mock = mock_server("--lm", lm)
    result = run(base, mock, "-k", "openbookqa", "--limit-samples", "5", "--no-cache")
    assert result.ret == 0, result.stdout.str()
    entry = results(base)["benchmarks"]["openbookqa"]
    assert entry["scoring"]["method"] == method and entry["errors"] == 0
    expected_acc, expected_norm = [], []
    for row, sample in zip(rows("openbookqa", 5), samples(base, "openbookqa")):
        lls = [toy_loglikelihood(" " + choice) for choice in row["choices"]["text"]]
        assert sample["loglikelihoods"] == pytest.approx(lls)
        gold = row["choices"]["label"].index(row["answerKey"])
        expected_acc.append(lls.index(max(lls)) == gold)
        normed = [value / len(choice) for value, choice in zip(lls, row["choices"]["text"])]
        expected_norm.append(normed.index(max(normed)) == gold)
    assert entry["metrics"]["acc"]["value"] == pytest.approx(sum(expected_acc) / 5)
    assert entry["metrics"]["acc_norm"]["value"] == pytest.approx(sum(expected_norm) / 5)


def test_partial_evaluation_scores_the_shared_continuation(base, mock_server):
    mock = mock_server("--lm", "vllm")
    result = run(base, mock, "-k", "winogrande", "--limit-samples", "3", "--no-cache")
    assert result.ret == 0, result.stdout.str()
    for row, sample in zip(rows("winogrande", 3), samples(base, "winogrande")):
        rest = row["sentence"][row["sentence"].index("_") + 1:].strip()
        # the continuation is the same under both options; the context's last token differs (" cup" vs " shelf"
        # is context, not continuation), so both choices score the rest of the sentence alike
        assert sample["loglikelihoods"] == pytest.approx([toy_loglikelihood(" " + rest)] * 2)


def test_teacher_forcing_keeps_each_sample_on_one_slot(base, mock_server):
    mock = mock_server("--lm", "llama")
    assert run(base, mock, "-k", "openbookqa", "--limit-samples", "6", "--no-cache").ret == 0
    stats = mock.stats()
    assert stats["slots"].pop("-1") == 2 and set(stats["slots"]) == {"0", "1"}  # the probe (echo, forced): no slot
    firsts = {}  # a sample's prompts start with its question's first token: one slot each, never interleaved
    for slot, log in stats["slot_log"].items():
        if slot == "-1":
            continue
        runs = [token for index, token in enumerate(log) if index == 0 or log[index - 1] != token]
        assert len(runs) == len(set(runs)), log
        for token in runs:
            assert firsts.setdefault(token, slot) == slot
    mock = mock_server("--lm", "llama")
    assert run(base, mock, "-k", "openbookqa", "--limit-samples", "2", "--no-cache",
               "--set", "generation.pin_slots=false").ret == 0
    assert set(mock.stats()["slots"]) == {"-1"}


def test_failed_completions_are_retried_and_scores_are_cached(base, mock_server):
    mock = mock_server("--lm", "llama", "--lm-faults-after", "3", "--fault", "500:2")
    assert run(base, mock, "-k", "openbookqa", "--limit-samples", "2", "--max-retries", "3").ret == 0
    first = results(base)["benchmarks"]["openbookqa"]
    assert first["errors"] == 0 and mock.stats()["completions"] > 3
    mock = mock_server("--lm", "llama")
    assert run(base, mock, "-k", "openbookqa", "--limit-samples", "2").ret == 0
    assert mock.stats()["completions"] == 3  # the probe's only: both items came from the cache
    assert results(base)["benchmarks"]["openbookqa"]["metrics"] == first["metrics"]


def test_generative_items_are_raw_completions(base, mock_server):
    mock = mock_server("--lm", "plain", "--answer", " B\n")
    result = run(base, mock, "-k", "mmlu", "--limit-samples", "6", "--no-cache", "-n", "2")
    assert result.ret == 0, result.stdout.str()
    entry = results(base)["benchmarks"]["mmlu"]
    expected = [row["answer"] == 1 for row in rows("mmlu", 6)]
    assert entry["metrics"]["exact_match"]["value"] == pytest.approx(sum(expected) / 6)
    assert entry["scoring"] == {"api": "completions"}
    assert [sample["extracted"] for sample in samples(base, "mmlu")] == ["B"] * 6


def test_a_chat_only_endpoint_is_refused_before_anything_is_sent(base, mock_server):
    mock = mock_server()  # no /v1/completions
    result = run(base, mock, "-k", "openbookqa", "--limit-samples", "2")
    assert result.ret != 0
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert errors == [f"ERROR: openbookqa send raw prompts to {mock.url}/v1/completions, which this endpoint does not "
                      "serve (HTTP 404: a chat-only API?): give --endpoint a server with the completions API "
                      "(vLLM, llama.cpp)"]
    assert mock.chat_requests() == 0 and not (base.path / "results" / "results.json").exists()


def test_a_server_without_log_probs_is_refused(base, mock_server):
    mock = mock_server("--lm", "plain")
    result = run(base, mock, "-k", "openbookqa or winogrande", "--limit-samples", "2")
    assert result.ret != 0
    result.stderr.fnmatch_lines([f"ERROR: openbookqa, winogrande score log-likelihoods on token ids and "
                                 f"{mock.url}/tokenize did not tokenize (HTTP 404): serve the model with vLLM or llama.cpp"])
    assert mock.stats()["completions"] == 1  # the probe's 1-token completion, nothing more


def test_a_missing_or_corrupt_few_shot_file_is_one_line(base, mock_server):
    mock = mock_server("--lm", "vllm")
    fewshot = base.path / "data" / "winogrande.fewshot.jsonl"
    lines = fewshot.read_text().splitlines()
    fewshot.write_text("\n".join([lines[0], '{"sentence": "cut off', *lines[2:]]) + "\n")
    result = run(base, mock, "-k", "winogrande", "--limit-samples", "2")
    assert result.ret != 0 and mock.stats()["completions"] == 0
    assert [line for line in result.stderr.lines if line.startswith("ERROR:")] == [
        "ERROR: winogrande: data/winogrande.fewshot.jsonl line 2: not valid JSON (Invalid control character at)"]
    fewshot.unlink()
    result = run(base, mock, "-k", "winogrande", "--limit-samples", "2")
    result.stderr.fnmatch_lines(["ERROR: winogrande: --data-dir data: no file data/winogrande.fewshot.jsonl (the few-shot "
                                 "examples, one JSON object per line, in the schema of allenai/winogrande (split train, "
                                 "config winogrande_xl))"])
    assert not (base.path / "results" / "results.json").exists()
