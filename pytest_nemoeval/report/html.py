"""The pytest-html report (`--html`): above pytest's table, the score table with intervals, a plot of each
benchmark's primary metric, per-category bars, curves over a numeric axis (RULER's score by context length:
plot and table), the baseline comparison, the resolved configuration and provenance, and the items that
errored or were wrong with links to their rows of samples.jsonl."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_nemoeval.results import ResultsDocument

LISTED_ROWS = 50  # rows listed per benchmark; the rest are in samples.jsonl
STYLE = ("<style>.nemoeval table{border-collapse:collapse;margin:6px 0}.nemoeval td,.nemoeval th{border:1px solid "
         "#ccc;padding:3px 8px;font-size:13px}.nemoeval th{background:#eee}.nemoeval img{display:block;"
         "margin:8px 0;max-width:100%}.nemoeval .failed{color:#b00;font-weight:bold}.nemoeval .average{font-weight:"
         "bold}.nemoeval small{color:#666}</style>")


class HtmlReport:
    """pytest-html's summary hook, for the process that writes results.json."""

    def __init__(self, config: pytest.Config | None, results: ResultsDocument, results_dir: Path) -> None:
        self.config = config
        self.results = results
        self.results_dir = results_dir

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str]) -> None:
        if not self.results.benchmarks:
            return
        prefix.append(self.section(Path(getattr(self.config.option, "htmlpath", None) or "report.html").resolve()))

    def section(self, report: Path) -> str:
        """The run's part of the report at `report` (its links to samples rows are relative to it)."""
        sections = [self.scores(), self.plots(), self.curves(), self.comparison(), self.failures(report.parent),
                    self.provenance()]
        return f'<div class="nemoeval" id="nemoeval">{STYLE}{"".join(sections)}</div>'

    def scores(self) -> str:
        failed = {failure.benchmark for failure in self.results.gate_failures}
        compared = (self.results.comparison or {}).get("benchmarks", {})
        head = ("<tr><th>benchmark</th><th>metric</th><th>value</th><th>95% CI</th><th>stderr</th><th>samples</th>"
                "<th>items</th><th>errors</th><th>gate</th><th>baseline</th><th>delta</th><th>verdict</th></tr>")
        rows = []
        for name, entry in self.results.benchmarks.items():
            metric = entry["primary_metric"]
            value = entry["metrics"].get(metric, {})
            low, high = value.get("ci95", [0.0, 0.0])
            gate = "FAILED" if name in failed else ("passed" if entry.get("thresholds") else "no threshold")
            versus = compared.get(name) or {}
            delta = versus.get("delta")
            rows.append(
                f"<tr><td>{_e(name)}</td><td>{_e(metric)}</td><td>{value.get('value', 0.0):.4f}</td>"
                f"<td>{low:.4f} – {high:.4f}</td><td>{value.get('stderr', 0.0):.4f}</td><td>{entry['samples']}</td>"
                f"<td>{entry['items']}</td><td>{entry['errors']}</td>"
                f"<td{' class=failed' if gate == 'FAILED' else ''}>{gate}</td>"
                f"<td>{_fmt(versus.get('baseline'))}</td><td>{'' if delta is None else f'{delta:+.4f}'}</td>"
                f"<td>{_e(versus.get('verdict', ''))}</td></tr>")
        lines = [f"<li class=failed>GATE FAILED: {_e(f.message)}</li>" for f in self.results.gate_failures]
        lines += [f"<li>GATE INCONCLUSIVE: {_e(f.message)}</li>" for f in self.results.inconclusive]
        text = "".join(f"<li>{_e(row)}</li>" for row in self.results.summary_rows() + self.results.aggregate_rows())
        return (f'<div id="nemoeval-scores"><h2>nemoeval scores</h2><table id="nemoeval-score-table">{head}'
                f'{"".join(rows)}</table><ul>{"".join(lines)}{text}</ul></div>')

    def plots(self) -> str:
        from pytest_nemoeval.suite import installed

        if not installed("matplotlib"):
            return ("<div id=\"nemoeval-plots\"><p>plots need matplotlib: pip install "
                    "'pytest-nemoeval[plot]'</p></div>")
        from pytest_nemoeval.report.plots import interval_plot

        benchmarks = self.results.benchmarks
        compared = (self.results.comparison or {}).get("benchmarks", {})
        labels = [f"{name} ({entry['primary_metric']})" for name, entry in benchmarks.items()]
        summaries = [entry["metrics"].get(entry["primary_metric"], {}) for entry in benchmarks.values()]
        baseline = [(compared.get(name) or {}).get("baseline") for name in benchmarks] if compared else None
        images = [_image(interval_plot("primary metric per benchmark, 95% CI", labels, summaries,
                                       baseline=baseline), "primary metrics")]
        for name, entry in benchmarks.items():
            breakdown = entry.get("categories")
            if not breakdown:
                continue
            by = breakdown["by"]
            labels = [f"{category} (n={by[category]['samples']})" for category in by]
            summaries = [by[category]["metrics"].get(breakdown["metric"], {}) for category in by]
            title = f"{name}: {breakdown['metric']} per {breakdown['field']}, 95% CI"
            images.append(_image(interval_plot(title, labels, summaries, color="#5a9e6f"), title))
        return f'<div id="nemoeval-plots"><h2>nemoeval plots</h2>{"".join(images)}</div>'

    def curves(self) -> str:
        """Each benchmark's curve (results.json `curve`: RULER's score by context length): its plot, and its values
        as a table (line x point, each with its 95% CI), readable without the plot."""
        from pytest_nemoeval.suite import installed

        parts = []
        for name, entry in self.results.benchmarks.items():
            curve = entry.get("curve")
            if not curve:
                continue
            title = f"{name} by {curve['axis']}, 95% CI"
            if installed("matplotlib"):
                from pytest_nemoeval.report.plots import curve_plot

                parts.append(_image(curve_plot(title, curve, entry["metrics"]), title))
            head = "".join(f"<th>{_e(label)}</th>" for label in curve["labels"])
            rows = []
            for line, names in curve["lines"].items():
                cells = []
                for metric in names:
                    summary = entry["metrics"].get(metric) if metric else None
                    if summary is None:
                        cells.append("<td></td>")
                        continue
                    low, high = summary.get("ci95", [summary["value"], summary["value"]])
                    cells.append(f'<td title="{_e(metric)}">{summary["value"]:.4f}<br><small>{low:.4f} – {high:.4f}'
                                 f'</small></td>')
                strong = ' class="average"' if line == curve.get("average") else ""
                rows.append(f"<tr{strong}><th>{_e(line)}</th>{''.join(cells)}</tr>")
            parts.append(f"<h3>{_e(title)}</h3><table class=\"nemoeval-curve\" id=\"nemoeval-curve-{_e(name)}\">"
                         f"<tr><th>{_e(curve.get('lines_are', 'line'))}</th>{head}</tr>{''.join(rows)}</table>")
        return f'<div id="nemoeval-curves"><h2>nemoeval curves</h2>{"".join(parts)}</div>' if parts else ""

    def comparison(self) -> str:
        if self.results.comparison is None:
            return ""
        from pytest_nemoeval.compare.report import lines

        rows = "".join(f"<li>{_e(row)}</li>" for row in lines(self.results.comparison))
        return f'<div id="nemoeval-comparison"><h2>nemoeval comparison with the baseline</h2><ul>{rows}</ul></div>'

    def failures(self, report_dir: Path) -> str:
        parts = []
        for name in self.results.benchmarks:
            path = self.results_dir / name / "samples.jsonl"
            if not path.is_file():
                continue
            link = html.escape(Path(os.path.relpath(path, report_dir)).as_posix(), quote=True)
            listed, total = [], 0
            with open(path, encoding="utf-8") as handle:
                for number, line in enumerate(handle, 1):
                    row = json.loads(line)
                    if row.get("verdict") not in ("error", "incorrect"):
                        continue
                    total += 1
                    if len(listed) < LISTED_ROWS:
                        what = row.get("error") or f"answer {row.get('extracted')!r}, expected {row.get('expected')!r}"
                        listed.append(f"<tr><td>{_e(row.get('sample_id'))}</td><td>{row.get('repeat')}</td>"
                                      f"<td>{_e(row.get('verdict'))}</td><td>{_e(str(what)[:300])}</td>"
                                      f'<td><a href="{link}">samples.jsonl</a> line {number}</td></tr>')
            if total:
                more = f"<p>{total - len(listed)} more in samples.jsonl</p>" if total > len(listed) else ""
                parts.append(f"<h3>{_e(name)}: {total} wrong or errored</h3><table><tr><th>sample</th><th>repeat</th>"
                             f"<th>verdict</th><th>what</th><th>row</th></tr>{''.join(listed)}</table>{more}")
        return f'<div id="nemoeval-failures"><h2>nemoeval failures</h2>{"".join(parts)}</div>' if parts else ""

    def provenance(self) -> str:
        document = self.results.document or {}
        shown = {key: document.get(key) for key in ("model", "endpoint", "provenance", "config")}
        return (f'<div id="nemoeval-configuration"><h2>nemoeval configuration and provenance</h2><details open>'
                f'<summary>resolved configuration</summary><pre>{_e(json.dumps(shown, indent=2))}</pre></details>'
                f'</div>')


def _image(uri: str, alt: str) -> str:
    return f'<img class="nemoeval-plot" alt="{html.escape(alt, quote=True)}" src="{uri}">'


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else ""
