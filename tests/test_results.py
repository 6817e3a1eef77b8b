"""results.json, samples.jsonl, gates, recipes, the response cache, xdist and kill -9 resume."""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from helpers import MMLU_DATA, mmlu_answers, results, samples

from pytest_nemoeval.results import ResultsCollector

XDIST_MODES = [pytest.param([], id="no-xdist"), pytest.param(["-n", "0"], id="n0"), pytest.param(["-n", "2"], id="n2")]


def run(bench: pytest.Pytester, mock, *args: str) -> pytest.RunResult:
    return bench.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data", *args)


@pytest.mark.parametrize("xdist", XDIST_MODES)
def test_results_json_matches_hand_computed_scores(bench, mock_server, xdist):
    mock = mock_server()  # answers B to everything; 1 of the first 10 answers is B
    result = run(bench, mock, "--limit-samples", "10", *xdist)
    assert result.ret == 0
    document = results(bench)
    assert document["schema"] == "pytest-nemoeval/results/1"
    assert document["model"] == "mock-model"
    assert document["endpoint"] == f"{mock.url}/v1"
    assert document["config"]["limit_samples"] == 10
    assert set(document["provenance"]) == {"plugin_version", "python", "git_sha", "started", "finished"}
    entry = document["benchmarks"]["mmlu_pro"]
    assert (entry["samples"], entry["repeats"], entry["items"], entry["errors"]) == (10, 1, 10, 0)
    assert entry["primary_metric"] == "accuracy"
    # per-sample scores [1, 0 x 9]: mean 0.1, sample variance 0.1, stderr sqrt(0.1 / 10) = 0.1
    accuracy = entry["metrics"]["accuracy"]
    assert accuracy["value"] == pytest.approx(0.1)
    assert accuracy["stderr"] == pytest.approx(0.1)
    assert accuracy["ci95"] == pytest.approx([0.0, 0.1 + 1.959964 * 0.1], abs=1e-5)
    assert entry["metrics"]["pass@1"] == accuracy
    assert entry["metrics"]["no_answer"]["value"] == 0.0
    assert document["gate"] == {"passed": True, "failures": []}
    rows = samples(bench)
    assert len(rows) == 10
    assert sorted(row["sample_id"] for row in rows) == list(range(70, 80))
    row = next(row for row in rows if row["sample_id"] == 70)
    assert row["verdict"] == "correct" and row["extracted"] == "B" and row["expected"] == "B"
    assert row["tokens"] == 5 and row["latency"] >= 0 and len(row["prompt_hash"]) == 16
    assert mock.chat_requests() == 10  # no duplicate requests, whatever the xdist mode


def test_n2_gives_the_same_results_as_n0(bench, mock_server):
    mock = mock_server("--answer", "seed {seed}. Answer: \\boxed{B}")
    outputs = {}
    for mode in ("0", "2"):
        result = run(bench, mock, "--limit-samples", "6", "--repeats", "3", "--set", "generation.seed=1",
                     "-n", mode, "--results-dir", f"results-n{mode}")
        assert result.ret == 0
        document = json.loads((bench.path / f"results-n{mode}" / "results.json").read_text())
        rows = [json.loads(line) for line in
                (bench.path / f"results-n{mode}" / "mmlu_pro" / "samples.jsonl").read_text().splitlines()]
        rows = sorted(({k: v for k, v in row.items() if k != "latency"} for row in rows),
                      key=lambda row: (row["sample_id"], row["repeat"]))
        outputs[mode] = (document["benchmarks"], rows)
    assert len(outputs["2"][1]) == 18
    assert outputs["2"] == outputs["0"]
    assert mock.chat_requests() == 36  # each run (own results dir, own cache) sends each request once


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
def test_endpoint_with_or_without_v1(bench, mock_server, suffix):
    mock = mock_server()
    result = bench.runpytest_subprocess("suites/", "--endpoint", mock.url + suffix, "--data-dir", "data",
                                        "--limit-samples", "2")
    assert result.ret == 0
    assert results(bench)["endpoint"] == f"{mock.url}/v1"
    assert mock.chat_requests() == 2


def test_repeats_give_pass_at_k_majority_and_distinct_seeds(bench, mock_server):
    mock = mock_server("--answer", "seed {seed}. Answer: \\boxed{B}")
    result = run(bench, mock, "--limit-samples", "3", "--repeats", "4", "--set", "generation.seed=7")
    assert result.ret == 0
    metrics = results(bench)["benchmarks"]["mmlu_pro"]["metrics"]
    # sample 0 (answer B) right 4/4, samples 1 and 2 wrong 4/4
    for name in ("pass@1", "pass@2", "pass@4", "majority@4"):
        assert metrics[name]["value"] == pytest.approx(1 / 3), name
    seeds = sorted(row["response"].split(".")[0] for row in samples(bench) if row["sample_id"] == 70)
    assert seeds == ["seed 10", "seed 7", "seed 8", "seed 9"]  # each repeat is its own request


def test_failed_threshold_fails_the_run_with_one_line(bench, mock_server):
    mock = mock_server()
    result = run(bench, mock, "--limit-samples", "10", "--threshold", "mmlu_pro.accuracy>=0.5")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["GATE FAILED: mmlu_pro.accuracy = 0.1000 (95% CI [0.0000, 0.2960]), required >= 0.5"])
    document = results(bench)
    assert document["gate"]["passed"] is False
    assert document["benchmarks"]["mmlu_pro"]["thresholds"] == [
        {"metric": "accuracy", "op": ">=", "value": 0.5, "passed": False}]


def test_passing_upper_bound_threshold_keeps_exit_zero(bench, mock_server):
    mock = mock_server()
    result = run(bench, mock, "--limit-samples", "10", "--threshold", "mmlu_pro.no_answer<=0.05")
    assert result.ret == 0
    assert results(bench)["gate"]["passed"] is True


def test_recipe_thresholds_and_overrides(bench, mock_server):
    mock = mock_server()
    bench.path.joinpath("recipe.yaml").write_text(
        "parallelism: 4\n"
        "generation: {temperature: 0.5, max_new_tokens: 128}\n"
        "benchmarks:\n"
        "  mmlu_pro:\n"
        "    limit_samples: 10\n"
        "    generation: {temperature: 0.0}\n"
        "    thresholds: ['accuracy>=0.5']\n")
    result = run(bench, mock, "--recipe", "recipe.yaml", "--set", "parallelism=2")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["GATE FAILED: mmlu_pro.accuracy = 0.1000*"])
    config = results(bench)["config"]
    assert config["parallelism"] == 2  # --set wins over the recipe
    assert config["benchmarks"]["mmlu_pro"]["generation"] == {"temperature": 0.0}
    assert config["thresholds"] == ["mmlu_pro.accuracy>=0.5"]


def test_rerun_is_served_from_the_cache_and_no_cache_resends(bench, mock_server):
    mock = mock_server()
    assert run(bench, mock, "--limit-samples", "5").ret == 0
    assert mock.chat_requests() == 5
    assert run(bench, mock, "--limit-samples", "5").ret == 0
    assert mock.chat_requests() == 5  # nothing resent
    assert run(bench, mock, "--limit-samples", "5", "--no-cache").ret == 0
    assert mock.chat_requests() == 10
    assert results(bench)["benchmarks"]["mmlu_pro"]["metrics"]["accuracy"]["value"] == pytest.approx(0.2)


def test_kill_9_then_rerun_resends_only_unfinished_requests(bench, mock_server):
    mock = mock_server("--latency", "0.3")
    command = [sys.executable, "-m", "pytest", "suites/", "--endpoint", mock.url, "--data-dir", "data",
               "--parallelism", "2", "-q"]
    process = subprocess.Popen(command, cwd=bench.path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    cache = bench.path / "results" / ".nemoeval" / "cache.sqlite"

    def finished() -> int:
        if not cache.exists():
            return 0
        with sqlite3.connect(cache) as connection:
            try:
                return connection.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
            except sqlite3.OperationalError:
                return 0

    deadline = time.monotonic() + 60
    while finished() < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done_before = finished()
    assert 6 <= done_before < 20
    assert not (bench.path / "results" / "results.json").exists()
    sent_before = mock.chat_requests()
    result = run(bench, mock, "--parallelism", "2")
    assert result.ret == 0
    assert mock.chat_requests() - sent_before == 20 - done_before
    assert results(bench)["benchmarks"]["mmlu_pro"]["items"] == 20


def test_pass_at_k_interval_is_over_samples_not_items(bench, mock_server):
    mock = mock_server()
    run(bench, mock, "--limit-samples", "4", "--repeats", "8")
    accuracy = results(bench)["benchmarks"]["mmlu_pro"]["metrics"]["accuracy"]
    correct = [answer == "B" for answer in mmlu_answers(4)]
    mean = sum(correct) / 4
    stderr = math.sqrt(sum((c - mean) ** 2 for c in correct) / 3 / 4)  # 4 clusters, not 32 items
    assert accuracy["stderr"] == pytest.approx(stderr, abs=1e-6)


def test_an_errored_item_reaches_the_metrics_as_a_failed_repeat_and_a_skipped_one_not_at_all(tmp_path):
    collector = ResultsCollector(tmp_path, "run")

    def ident(index, repeat):
        return {"benchmark": "b", "sample_index": index, "repeat": repeat, "sample_id": index, "repeats": 2,
                "primary_metric": "accuracy", "suite_file": "unused", "failed_inputs": {"steps": 3}}

    collector.add(ident(0, 0), {"correct": True, "extracted": "A", "metric_inputs": {"steps": 2}}, None, None)
    collector.add(ident(0, 1), None, "HTTP 500", None)
    collector.add(ident(1, 0), None, "timeout", None)
    collector.skip(ident(2, 0))
    collector.discard()
    tally = collector.tallies["b"]
    assert (tally.items, tally.errors, collector.skipped["b"]) == (3, 2, 1)
    first, second = tally.outcomes()
    assert (first.correct, first.answers, first.inputs, first.errors) == (
        [True, False], ["A", None], [{"steps": 2}, {"steps": 3}], [None, "HTTP 500"])
    assert (second.index, second.correct, second.answers, second.errors) == (1, [False], [None], ["timeout"])


SKIPPING_SUITE = '''
from pytest_nemoeval import Suite, HubDataset, extract_choice_letter

suite = Suite(
    name="mmlu_pro",
    data=HubDataset("TIGER-Lab/MMLU-Pro", split="test"),
    prompt=lambda row: row["question"],
    id_field="question_id",
    skip=lambda row: "no physics here" if row["category"] == "physics" else None,
)


def test_mmlu_pro(sample, response, verdict):
    answer = extract_choice_letter(response.text)
    verdict(answer == sample["answer"], answer=answer, expected=sample["answer"])
'''


def test_skipped_items_are_counted_apart_and_stay_out_of_the_metrics(bench, mock_server):
    (bench.path / "suites" / "test_mmlu_pro.py").write_text(SKIPPING_SUITE)
    mock = mock_server()  # answers B
    result = run(bench, mock)
    rows = [json.loads(line) for line in MMLU_DATA.read_text().splitlines()]
    kept = [row for row in rows if row["category"] != "physics"]
    entry = results(bench)["benchmarks"]["mmlu_pro"]
    assert (entry["samples"], entry["items"], entry["errors"], entry["skipped"]) == (len(kept), len(kept), 0, 20 - len(kept))
    assert entry["metrics"]["accuracy"]["value"] == pytest.approx(sum(row["answer"] == "B" for row in kept) / len(kept),
                                                                 abs=1e-6)
    assert entry["metrics"]["accuracy"]["samples"] == len(kept) < 20
    result.stdout.fnmatch_lines([f"mmlu_pro: accuracy * errors=0 skipped={20 - len(kept)}  gate: no threshold"])
    assert result.ret == 0
