"""Benchmarks as pytest items: ids, selection, verdict categories, -x, --lf, --collect-only."""

from __future__ import annotations

import json

import pytest

from helpers import mmlu_answers, results


def run(bench: pytest.Pytester, mock, *args: str) -> pytest.RunResult:
    return bench.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data", *args)


def test_one_item_per_sample_and_repeat_with_stable_ids(bench, mock_server):
    mock = mock_server()
    result = run(bench, mock, "--collect-only", "-q", "--limit-samples", "2", "--repeats", "2")
    result.stdout.fnmatch_lines([
        "suites/test_mmlu_pro.py::test_mmlu_pro[[]s00000-r0[]]",
        "suites/test_mmlu_pro.py::test_mmlu_pro[[]s00000-r1[]]",
        "suites/test_mmlu_pro.py::test_mmlu_pro[[]s00001-r0[]]",
        "suites/test_mmlu_pro.py::test_mmlu_pro[[]s00001-r1[]]",
        "4 tests collected*",
    ])


def test_collect_only_shows_resolved_configuration_and_sends_nothing(bench, mock_server):
    mock = mock_server()
    result = run(bench, mock, "--collect-only", "--limit-samples", "3", "--set", "generation.temperature=0.6")
    result.stdout.fnmatch_lines(['nemoeval configuration: *"generation": {"temperature": 0.6}*'])
    assert mock.chat_requests() == 0
    assert not (bench.path / "results" / "results.json").exists()


def test_wrong_answers_are_verdicts_not_failures(bench, mock_server):
    mock = mock_server()  # always answers B
    result = run(bench, mock, "--limit-samples", "10", "-x")
    expected_correct = mmlu_answers(10).count("B")
    assert expected_correct == 1
    result.stdout.fnmatch_lines(["*1 correct, 9 incorrect*"])
    assert result.ret == 0  # -x did not stop at the first wrong answer
    assert results(bench)["benchmarks"]["mmlu_pro"]["items"] == 10


def test_fail_incorrect_turns_wrong_answers_into_failures(bench, mock_server):
    mock = mock_server()
    result = run(bench, mock, "--limit-samples", "10", "--fail-incorrect")
    result.stdout.fnmatch_lines(["*incorrect: expected 'D', extracted 'B'*", "*9 failed, 1 correct*"])
    assert result.ret == 1
    # still verdicts in the results, not harness errors
    assert results(bench)["benchmarks"]["mmlu_pro"]["errors"] == 0


def test_k_selects_benchmark_and_repeat(bench, mock_server):
    mock = mock_server()
    result = run(bench, mock, "--limit-samples", "3", "--repeats", "3", "-k", "mmlu_pro and r0")
    result.stdout.fnmatch_lines(["*6 deselected*"])
    assert mock.chat_requests() == 3
    assert results(bench)["benchmarks"]["mmlu_pro"]["items"] == 3


def test_m_nemoeval_selects_benchmark_items(bench, mock_server):
    mock = mock_server()
    bench.makepyfile(test_plain="def test_plain():\n    pass\n")
    selected = bench.runpytest_subprocess("suites/", "test_plain.py", "--endpoint", mock.url, "--data-dir", "data",
                                          "--limit-samples", "2", "-m", "nemoeval")
    selected.stdout.fnmatch_lines(["*1 deselected, 1 correct, 1 incorrect*"])  # the mock answers B: row 0 only
    others = bench.runpytest_subprocess("suites/", "test_plain.py", "--endpoint", mock.url, "--data-dir", "data",
                                        "--limit-samples", "2", "-m", "not nemoeval")
    others.stdout.fnmatch_lines(["*1 passed, 2 deselected*"])
    assert mock.chat_requests() == 2


def test_harness_error_stops_x_and_lf_reruns_only_it(bench, mock_server):
    mock = mock_server("--fault", "400:1")
    first = run(bench, mock, "--limit-samples", "4", "--parallelism", "1", "--no-cache")
    first.stdout.fnmatch_lines(["*HTTP 400*max_tokens is too large*", "*1 error*"])
    assert first.ret == 1
    assert "During handling" not in first.stdout.str()  # one clean line, no chained traceback
    assert mock.chat_requests() == 4
    rerun = run(bench, mock, "--limit-samples", "4", "--parallelism", "1", "--lf", "--no-cache")
    rerun.stdout.fnmatch_lines(["*rerun previous 1 failure*", "*1 correct in*"])
    assert rerun.ret == 0
    assert mock.chat_requests() == 5


@pytest.mark.parametrize("xdist", [pytest.param([], id="no-xdist"), pytest.param(["-n", "2"], id="n2")])
def test_x_cancels_in_flight_requests_promptly(bench, mock_server, xdist):
    import time

    mock = mock_server("--latency", "120", "--fault", "400:1")
    started = time.monotonic()
    result = run(bench, mock, "--limit-samples", "20", "--parallelism", "8", "-x", *xdist)
    assert time.monotonic() - started < 60, result.stdout.str()  # the other requests take 120 s each
    assert result.ret == (pytest.ExitCode.INTERRUPTED if xdist else pytest.ExitCode.TESTS_FAILED)  # as xdist does
    result.stdout.fnmatch_lines(["*HTTP 400*", "*stopping after 1 failures*"])
    entry = results(bench)["benchmarks"]["mmlu_pro"]
    assert entry["errors"] >= 1 and entry["items"] == entry["errors"]  # nothing else had an answer yet


def test_item_label_puts_a_row_field_in_the_id_for_k(bench, mock_server):
    suite = bench.path / "suites" / "test_mmlu_pro.py"
    suite.write_text(suite.read_text().replace('id_field="question_id",',
                                               'id_field="question_id",\n    item_label=lambda row: row["category"],'))
    mock = mock_server()
    result = run(bench, mock, "--collect-only", "-q", "--limit-samples", "4")
    categories = [json.loads(line)["category"] for line in
                  (bench.path / "data" / "mmlu_pro.jsonl").read_text().splitlines()[:4]]
    result.stdout.fnmatch_lines([f"*test_mmlu_pro[[]s0000{i}-{c}-r0[]]" for i, c in enumerate(categories)])
    chosen = run(bench, mock, "--collect-only", "-q", "--limit-samples", "4", "-k", categories[0])
    n = categories.count(categories[0])
    chosen.stdout.fnmatch_lines([f"{n}/4 tests collected ({4 - n} deselected)*"])
