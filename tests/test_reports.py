"""Reasoning traces in responses, and the score table in pytest-html reports."""

from __future__ import annotations

from helpers import results, samples


def test_only_the_final_answer_is_scored_and_the_trace_is_kept(bench, mock_server):
    mock = mock_server("--answer", "<think>It might be \\boxed{A}.</think>Answer: \\boxed{B}")
    result = bench.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data", "--limit-samples", "1")
    result.stdout.fnmatch_lines(["*1 correct in*"])
    row = samples(bench)[0]
    assert row["extracted"] == "B" and row["reasoning"] == "It might be \\boxed{A}."


def test_response_cut_off_in_the_trace_counts_as_no_answer(bench, mock_server):
    mock = mock_server("--answer", "<think>Still thinking... \\boxed{B}")
    result = bench.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data", "--limit-samples", "2")
    assert result.ret == 0
    metrics = results(bench)["benchmarks"]["mmlu_pro"]["metrics"]
    assert metrics["no_answer"]["value"] == 1.0 and metrics["accuracy"]["value"] == 0.0


def test_html_report_shows_the_score_table(bench, mock_server):
    mock = mock_server()
    result = bench.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data",
                                        "--limit-samples", "10", "--threshold", "mmlu_pro.accuracy>=0.5",
                                        "--html", "report.html")
    assert result.ret == 1
    html = (bench.path / "report.html").read_text()
    assert "nemoeval scores" in html
    assert "mmlu_pro: accuracy 0.1000" in html
    assert "GATE FAILED" in html
