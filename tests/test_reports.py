"""What a run shows: reasoning traces, per-category breakdowns (results.json, -v), JUnit properties, and the
pytest-html report (score table, embedded plots, comparison, configuration, links to samples.jsonl rows)."""

from __future__ import annotations

import base64
import json
import re
import shutil
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path

import pytest

from helpers import MMLU_DATA, copy_suites, results, samples

ROWS = [json.loads(line) for line in MMLU_DATA.read_text().splitlines()]


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


def expected_by_category(limit: int) -> dict[str, list[int]]:
    """The mock answers B: per category, 1 for each of its rows whose answer is B."""
    by: dict[str, list[int]] = defaultdict(list)
    for row in ROWS[:limit]:
        by[row["category"]].append(int(row["answer"] == "B"))
    return by


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["no-xdist", "n2"])
def test_per_category_metrics_with_intervals_in_results_and_behind_v(bench, mock_server, xdist):
    mock = mock_server()
    args = ["suites/", "--endpoint", mock.url, "--data-dir", "data", *xdist]
    result = bench.runpytest_subprocess(*args, "-v")
    assert result.ret == 0
    breakdown = results(bench)["benchmarks"]["mmlu_pro"]["categories"]
    expected = expected_by_category(20)
    assert breakdown["field"] == "category" and breakdown["metric"] == "accuracy"
    assert set(breakdown["by"]) == set(expected)
    for category, scores in expected.items():
        entry = breakdown["by"][category]
        mean = sum(scores) / len(scores)
        assert entry["samples"] == len(scores)
        assert entry["metrics"]["accuracy"]["value"] == pytest.approx(mean)
        low, high = entry["metrics"]["accuracy"]["ci95"]
        assert low <= mean <= high
        assert entry["metrics"]["pass@1"] == entry["metrics"]["accuracy"]
    math = expected["math"]  # 5 rows, one B: stderr sqrt(0.2 * 0.8 / 4 / 5) = 0.2
    assert sum(math) == 1 and len(math) == 5
    assert breakdown["by"]["math"]["metrics"]["accuracy"]["stderr"] == pytest.approx(0.2)
    result.stdout.fnmatch_lines(["mmlu_pro: accuracy *", "  category=biology: accuracy 0.0000 (95% CI *)  samples=2",
                                 "  category=math: accuracy 0.2000 (95% CI 0.0000-0.5920, stderr 0.2000)  samples=5"])
    quiet = bench.runpytest_subprocess(*args)
    assert "category=" not in quiet.stdout.str()  # only behind -v


def test_junit_xml_carries_each_benchmarks_metrics_as_suite_properties(bench, mock_server):
    mock = mock_server()
    result = bench.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data", "--limit-samples",
                                        "10", "--junitxml", "junit.xml", "-n", "2")
    assert result.ret == 0
    suite = ElementTree.parse(bench.path / "junit.xml").getroot().find("testsuite")
    properties = {prop.get("name"): prop.get("value") for prop in suite.find("properties")}
    accuracy = results(bench)["benchmarks"]["mmlu_pro"]["metrics"]["accuracy"]
    assert float(properties["nemoeval.mmlu_pro.accuracy"]) == pytest.approx(0.1)
    assert float(properties["nemoeval.mmlu_pro.accuracy.stderr"]) == pytest.approx(accuracy["stderr"])
    assert float(properties["nemoeval.mmlu_pro.accuracy.ci95_high"]) == pytest.approx(accuracy["ci95"][1])
    assert properties["nemoeval.mmlu_pro.primary_metric"] == "accuracy"
    assert properties["nemoeval.mmlu_pro.samples"] == "10"
    assert properties["nemoeval.gate"] == "passed"


class Page(HTMLParser):
    """The report's images, tables, links and text by section id."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.links: list[str] = []
        self.ids: list[str] = []
        self.cells: list[str] = []
        self._cell = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "img":
            self.images.append(attributes)
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"])
        if attributes.get("id"):
            self.ids.append(attributes["id"])
        self._cell = tag in ("td", "th")

    def handle_data(self, data):
        if self._cell:
            self.cells.append(data.strip())


def html_run(bench, mock_server, baseline: bool) -> tuple[str, Page]:
    mock = mock_server()
    args = ["suites/", "--endpoint", mock.url, "--data-dir", "data", "--limit-samples", "12"]
    if baseline:
        assert bench.runpytest_subprocess(*args, "--results-dir", "base").ret == 0
        args += ["--baseline", "base"]
    result = bench.runpytest_subprocess(*args, "--threshold", "mmlu_pro.accuracy>=0.5", "--html", "out/report.html")
    assert result.ret == 1
    text = (bench.path / "out" / "report.html").read_text()
    page = Page()
    page.feed(text)
    return text, page


def test_html_report_shows_scores_plots_comparison_configuration_and_failure_rows(bench, mock_server):
    text, page = html_run(bench, mock_server, baseline=True)
    assert {"nemoeval-scores", "nemoeval-score-table", "nemoeval-plots", "nemoeval-comparison",
            "nemoeval-failures", "nemoeval-configuration"} <= set(page.ids)
    assert text.index("nemoeval-scores") < text.index('id="results-table"')  # above pytest's table
    # the score table: value, interval, stderr; the baseline's value, delta and verdict
    accuracy = results(bench)["benchmarks"]["mmlu_pro"]["metrics"]["accuracy"]
    assert "mmlu_pro" in page.cells and "0.0833" in page.cells
    assert f"{accuracy['ci95'][0]:.4f} – {accuracy['ci95'][1]:.4f}" in page.cells
    assert "+0.0000" in page.cells and "GATE FAILED" in text
    # every plot is embedded (no file, no network): the primary metrics and MMLU-Pro's categories
    plots = [image for image in page.images if "nemoeval-plot" in image.get("class", "")]
    assert [image["alt"] for image in plots] == ["primary metrics", "mmlu_pro: accuracy per category, 95% CI"]
    for image in plots:
        assert image["src"].startswith("data:image/png;base64,")
        png = base64.b64decode(image["src"].split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert not re.search(r'<(img|script|link)[^>]+(src|href)="https?://', text)
    # failures link to their rows of samples.jsonl, relative to the report
    assert "../results/mmlu_pro/samples.jsonl" in page.links
    rows = samples(bench)
    wrong = [number for number, row in enumerate(rows, 1) if row["verdict"] == "incorrect"]
    assert f"line {wrong[0]}" in text and len(wrong) == 11
    # the resolved configuration and provenance
    assert '&quot;limit_samples&quot;: 12' in text and "plugin_version" in text


class Tables(HTMLParser):
    """Each table of a page by its id: its rows, each a list of its cells' texts (a cell's lines joined by |)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._rows: list[list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._rows = self.tables.setdefault(dict(attrs).get("id") or "", [])
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._rows:
            self._rows[-1].append("|".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._rows = None

    def handle_data(self, data):
        if self._cell is not None and data.strip():
            self._cell.append(data.strip())


def test_html_report_draws_rulers_score_by_length_curve_and_tables_it(pytester, mock_server, monkeypatch):
    pytest.importorskip("long_context_eval")
    monkeypatch.setenv("XDG_CACHE_HOME", str(pytester.path / "cache"))
    copy_suites(pytester, "ruler")
    (pytester.path / "recipe.yaml").write_text(
        "benchmarks:\n  ruler:\n    data: {tasks: [vt, cwe], lengths: [1024, 2048], samples: 2}\n")
    # vt is answered with its prompt, which holds its answers; cwe with nothing; the 2K prompts do not fit
    (pytester.path / "answers.json").write_text(json.dumps([["Memorize and track the chain", "{prompt}"]]))
    mock = mock_server("--context", "1500", "--answers", str(pytester.path / "answers.json"), "--answer", "none")
    result = pytester.runpytest_subprocess("suites/", "--endpoint", mock.url, "--recipe", "recipe.yaml",
                                           "--html", "report.html")
    assert result.ret == 0
    entry = results(pytester)["benchmarks"]["ruler"]
    metrics = entry["metrics"]
    assert [metrics[name]["value"] for name in ("vt_1k", "cwe_1k", "score_1k", "vt_2k", "score_2k")] == [
        1.0, 0.0, 0.5, 0.0, 0.0]
    assert entry["curve"] == {
        "axis": "context length (tokens)", "scale": "log2", "x": [1024, 2048], "labels": ["1K", "2K"],
        "lines_are": "task", "average": "score",
        "lines": {"cwe": ["cwe_1k", "cwe_2k"], "vt": ["vt_1k", "vt_2k"], "score": ["score_1k", "score_2k"]}}
    text = (pytester.path / "report.html").read_text()
    page = Page()
    page.feed(text)
    title = "ruler by context length (tokens), 95% CI"
    [image] = [image for image in page.images if image.get("alt") == title]
    png = base64.b64decode(image["src"].split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    tables = Tables()
    tables.feed(text)
    rows = tables.tables["nemoeval-curve-ruler"]
    assert rows[0] == ["task", "1K", "2K"] and [row[0] for row in rows[1:]] == ["cwe", "vt", "score"]
    for row in rows[1:]:  # each cell: the value, then its interval, as results.json has them
        for cell, name in zip(row[1:], entry["curve"]["lines"][row[0]]):
            low, high = metrics[name]["ci95"]
            assert cell == f"{metrics[name]['value']:.4f}|{low:.4f} – {high:.4f}"
    assert rows[3][1].startswith("0.5000|0.") and rows[3][1] != "0.5000|0.5000 – 0.5000"  # an interval, not a point
    # without matplotlib: the same table, no image
    from pytest_nemoeval.report import html as report

    monkeypatch.setattr("pytest_nemoeval.suite.installed", lambda name: name != "matplotlib")
    section = report.HtmlReport(None, type("Run", (), {"benchmarks": {"ruler": entry}})(), pytester.path).curves()
    assert "<img" not in section and 'id="nemoeval-curve-ruler"' in section and "0.5000" in section


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(chromium() is None, reason="no Chromium on this machine (apt-get install chromium); "
                    "test_html_report_shows_scores_plots_... checks the embedded plots without a browser")
def test_html_report_renders_its_plots_and_table_in_a_browser(bench, mock_server):
    sync_api = pytest.importorskip("playwright.sync_api")
    html_run(bench, mock_server, baseline=False)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto((bench.path / "out" / "report.html").as_uri())
            page.wait_for_load_state("load")
            shown = page.eval_on_selector_all(
                "img.nemoeval-plot", "images => images.map(i => [i.complete, i.naturalWidth, i.offsetHeight])")
            rows = page.locator("#nemoeval-score-table tr").all_inner_texts()
            tests = page.locator("#results-table tbody").count()
        finally:
            browser.close()
    assert len(shown) == 2 and all(complete and width >= 600 and height > 50 for complete, width, height in shown)
    assert len(rows) == 2 and "mmlu_pro" in rows[1] and "0.0833" in rows[1]
    assert tests >= 12  # pytest-html's own table is still there, under ours
