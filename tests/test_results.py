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

from pytest_nemoeval.gate import error_rate_failure
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


# three of the 20 MMLU-Pro rows; the mock fails every request for them (HTTP 500), so with --max-retries 0 they error
FAILING = ["What is 7 multiplied by 8?", "What is the chemical symbol for gold?", "Which planet is known as the Red Planet?"]
ERROR_GATE = ("GATE FAILED: mmlu_pro: 3 of 20 items errored (15.0% > 1.0%; server error 3), more than --max-error-rate allows; "
              "first error: HTTP 500: internal error for the prompt with '{first}' (gave up after 1 attempts)")


def run_with_errors(bench: pytest.Pytester, mock_server, *args: str) -> pytest.RunResult:
    mock = mock_server(*[arg for question in FAILING for arg in ("--fail-prompt", question)])
    return run(bench, mock, "--limit-samples", "20", "--max-retries", "0", "--no-cache", *args)


@pytest.mark.parametrize("xdist", [XDIST_MODES[0], XDIST_MODES[2]])
def test_errored_items_count_as_wrong_and_fail_the_error_gate(bench, mock_server, xdist):
    result = run_with_errors(bench, mock_server, *xdist)
    rows = [json.loads(line) for line in MMLU_DATA.read_text().splitlines()]
    failed = [index for index, row in enumerate(rows) if row["question"] in FAILING]
    assert len(failed) == 3
    # the mock answers B: the rows answering B that did not fail are right, over all 20 (not over the 17 answered)
    right = sum(row["answer"] == "B" for index, row in enumerate(rows) if index not in failed)
    entry = results(bench)["benchmarks"]["mmlu_pro"]
    assert (entry["samples"], entry["items"], entry["errors"], entry["skipped"]) == (20, 20, 3, 0)
    assert entry["failures"] == {"server error": 3}  # the failure class of each errored item (HTTP 500)
    errored = [json.loads(line) for line in (bench.path / "results" / "mmlu_pro" / "samples.jsonl").read_text(
    ).splitlines() if '"verdict": "error"' in line]
    assert [row["failure"] for row in errored] == ["server error"] * 3
    result.stdout.fnmatch_lines(["mmlu_pro: accuracy * errors=3 (server error 3)  gate: FAILED*"])
    metrics = entry["metrics"]
    assert metrics["accuracy"]["value"] == pytest.approx(right / 20, abs=1e-6)
    assert metrics["no_answer"]["value"] == pytest.approx(3 / 20)  # the errors gave no answer
    assert metrics["error_rate"]["value"] == 0.15
    assert all(metric["samples"] == 20 for metric in metrics.values())
    # one line for the benchmark; without xdist the items run in order, so the first error is the first row's
    gate_lines = [line for line in result.stdout.lines if line.startswith("GATE FAILED")]
    assert len(gate_lines) == 1, result.stdout.str()
    result.stdout.fnmatch_lines([ERROR_GATE.format(first="*" if xdist else FAILING[0])])
    assert results(bench)["gate"] == {"passed": False, "failures": [gate_lines[0].removeprefix("GATE FAILED: ")]}
    assert "gate: FAILED" in result.stdout.str()
    assert result.ret == 1


@pytest.mark.parametrize("args, limit", [
    (["--max-error-rate", "0.2"], 0.2),
    (["--max-error-rate", "0.15"], 0.15),  # 3 of 20 is not above 15 %
    (["-o", "nemoeval_max_error_rate=0.2"], 0.2),
    (["--recipe", "recipe.yaml"], 0.25),
])
def test_max_error_rate_lets_the_errors_pass_the_gate(bench, mock_server, args, limit):
    (bench.path / "recipe.yaml").write_text("max_error_rate: 0.25\n")
    result = run_with_errors(bench, mock_server, *args)
    assert not [line for line in result.stdout.lines if line.startswith("GATE FAILED")], result.stdout.str()
    document = results(bench)
    assert document["gate"] == {"passed": True, "failures": []}
    assert document["config"]["max_error_rate"] == limit
    assert document["benchmarks"]["mmlu_pro"]["errors"] == 3  # still counted, and still wrong
    assert result.ret == 1  # the three items themselves errored


def test_error_gate_names_count_rate_limit_and_first_error_on_one_line():
    entry = {"errors": 1, "items": 400}
    assert error_rate_failure("x", entry, 0.01, "boom") is None
    assert error_rate_failure("x", {"errors": 0, "items": 20}, 0.0, None) is None  # 0: no error allowed
    assert error_rate_failure("x", {"errors": 0, "items": 0}, 0.0, None) is None  # nothing ran
    failure = error_rate_failure("x", entry, 0.0025 / 2, "Traceback\nline two")
    assert failure is not None and failure.benchmark == "x"
    assert failure.message == ("x: 1 of 400 items errored (0.250% > 0.125%), more than --max-error-rate allows; "
                               "first error: Traceback")
    long = error_rate_failure("x", {"errors": 1, "items": 20}, 0.0, "y" * 500)
    assert long is not None and long.message.endswith(": " + "y" * 199 + "…")
    assert "(5.0% > 0.0%)" in long.message
    classes = error_rate_failure("x", {"errors": 3, "items": 20, "failures": {"timeout": 2, "rate limit": 1}}, 0.0, "t")
    assert classes is not None and "(15.0% > 0.0%; timeout 2, rate limit 1)" in classes.message


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
    assert (tally.items, tally.errors, tally.first_error, collector.skipped["b"]) == (3, 2, "HTTP 500", 1)
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
    result.stdout.fnmatch_lines([f"mmlu_pro: accuracy * samples={len(kept)} of 20 ({20 - len(kept)} skipped) "
                                 "items=* errors=0  gate: no threshold"])
    assert result.ret == 0
