"""RULER: the packaged generators with the served model's tokenizer (the mock's /tokenize), their cache, the
package's scorers, and the suite's per-task and per-length metrics."""

from __future__ import annotations

import json
import shutil

import pytest

from helpers import ROOT, results, samples

pytest.importorskip("long_context_eval")

from pytest_nemoeval.tasks import ruler  # noqa: E402


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One RULER cache for the module: the mock's tokenizer is the same in every test, so are its prompts."""
    return tmp_path_factory.mktemp("cache")


def test_scores_are_the_packaged_scorers_on_the_same_replies():
    from long_context_eval.eval.synthetic.constants import string_match_all, string_match_part

    references = [["8090293"], ["alpha", "beta", "gamma"], ["Paris", "France"], ["yes"], ["a", "b"]]
    replies = [" The number is 8090293.\n", "ALPHA and gamma\x07", "It is in france", None, "b, then a"]
    for task, package in (("niah_single_1", string_match_all), ("qa_1", string_match_part)):
        ours = [ruler.score(task, reply, refs) for reply, refs in zip(replies, references)]
        preds = [ruler.postprocess(reply) for reply in replies]
        assert round(sum(ours) / len(ours) * 100, 2) == package(preds, references)
    assert ruler.score("niah_multivalue", "ALPHA and gamma", ["alpha", "beta", "gamma"]) == pytest.approx(2 / 3)
    assert ruler.score("qa_2", "It is in france", ["Paris", "France"]) == 1.0


def test_generation_uses_the_served_tokenizer_and_is_cached(mock_server, cache, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    mock = mock_server("--context", "100000")
    tokenizer = ruler.ServerTokenizer(f"{mock.url}/v1", "mock-model")
    rows = [json.loads(line) for task in ("vt", "cwe")
            for line in ruler.generated(task, 1024, 2, tokenizer).read_text().splitlines()]
    assert [row["task"] for row in rows] == ["vt", "vt", "cwe", "cwe"]
    for row in rows:  # the package's own bound, in the mock's tokens (whitespace-separated words)
        assert row["length"] <= 1024 and len(row["input"].split()) + row["tokens_to_generate"] <= 1024
        assert row["length"] > 600  # filled up to the length, not a short prompt
    assert rows[0]["input"].lstrip().startswith("Memorize and track the chain(s) of variable assignment")
    assert rows[2]["input"].endswith("The top 10 words that appear most often in the list are:")
    counted = mock.stats()["tokenize_requests"]
    assert counted > 4
    again = ruler.prompts({"tasks": ["vt", "cwe"], "lengths": [1024], "samples": 2, "template_tokens": 0,
                           "endpoint": {"url": f"{mock.url}/v1", "model": "mock-model"}}).load(None)
    assert [again[index] for index in range(len(again))] == rows
    assert mock.stats()["tokenize_requests"] == counted + 2  # only the fingerprints: read from the cache
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache / "fresh"))  # from nothing: the same prompts (seed, tokenizer)
    fresh = ruler.generated("vt", 1024, 2, tokenizer).read_text().splitlines()
    assert [json.loads(line) for line in fresh] == rows[:2]


def test_unknown_task_and_bad_lengths_are_one_line():
    from pytest_nemoeval.errors import DataError

    with pytest.raises(DataError, match="unknown RULER task"):
        ruler.prompts({"tasks": ["niah"], "lengths": [4096], "samples": 1})
    with pytest.raises(DataError, match="data.lengths must be a list"):
        ruler.prompts({"tasks": ["vt"], "lengths": ["4k"], "samples": 1})
    with pytest.raises(DataError, match="vt needs lengths of at least 1024 tokens"):
        ruler.prompts({"tasks": ["vt"], "lengths": [512], "samples": 1})
    with pytest.raises(DataError, match="qa_1 needs lengths of at least 4096 tokens"):
        ruler.prompts({"tasks": ["vt", "qa_1"], "lengths": [2048, 4096], "samples": 1})


def test_suite_scores_per_task_and_length(pytester, mock_server, monkeypatch, cache):
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    (pytester.path / "suites").mkdir()
    shutil.copy(ROOT / "suites" / "test_ruler.py", pytester.path / "suites")
    (pytester.path / "recipe.yaml").write_text(
        "benchmarks:\n  ruler:\n    data: {tasks: [vt, cwe], lengths: [1024, 2048], samples: 2}\n")
    # the context holds the 1K-token prompts, not the 2K-token ones; the reply repeats the prompt, which holds
    # every answer: full marks where it fits
    mock = mock_server("--context", "1500", "--answer", "{prompt}")
    result = pytester.runpytest_subprocess("suites/", "--endpoint", mock.url, "--recipe", "recipe.yaml")
    result.stdout.fnmatch_lines(["*ruler: score 0.5000 *items=8 errors=0 context_overflow=4*"])
    entry = results(pytester)["benchmarks"]["ruler"]
    values = {name: metric["value"] for name, metric in entry["metrics"].items()}
    assert values["vt_1k"] == values["cwe_1k"] == values["score_1k"] == 1.0
    assert values["vt_2k"] == values["cwe_2k"] == values["score_2k"] == 0.0
    assert entry["metrics"]["score_2k"]["samples"] == 4 and values["error_rate"] == 0.0
    assert mock.stats()["chat_requests"] == 4
    first = entry["dataset"]["rows_sha256"]
    # a rerun: the same prompts (fingerprint, from the cache), scored 0 for a reply without the answers
    mock = mock_server("--context", "1500", "--answer", "Answer: none of them")
    result = pytester.runpytest_subprocess("suites/", "--endpoint", mock.url, "--recipe", "recipe.yaml", "--no-cache")
    result.stdout.fnmatch_lines(["*ruler: score 0.0000 *items=8 errors=0 context_overflow=4*"])
    assert results(pytester)["benchmarks"]["ruler"]["dataset"]["rows_sha256"] == first
    rows = samples(pytester, "ruler")
    assert len([row for row in rows if row.get("context_overflow")]) == 4
