"""The run's scores at the end of pytest's terminal output: one line per benchmark (its categories under -v) and
per aggregate, the comparison with a baseline, the gate's lines, where results.json is and what was exported."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_nemoeval.report.categories import category_rows

if TYPE_CHECKING:
    from pytest_nemoeval.results import ResultsDocument


def write_scores(terminalreporter: Any, results: ResultsDocument, exported: list[str], verbose: bool,
                 overflows: dict[str, tuple[int, str | None]]) -> None:
    """`overflows`: per benchmark, the items that did not fit the model's context and the first one's reason."""
    rows = results.summary_rows()
    if not rows:
        return
    terminalreporter.write_sep("=", "nemoeval scores")
    for row, entry in zip(rows, results.benchmarks.values()):
        terminalreporter.write_line(row)
        for line in category_rows(entry) if verbose else ():
            terminalreporter.write_line(line)
    for row in results.aggregate_rows():
        terminalreporter.write_line(row)
    if results.comparison is not None:
        from pytest_nemoeval.compare.report import comparison_warnings, lines

        terminalreporter.write_sep("=", "nemoeval comparison with the baseline")
        for row in lines(results.comparison):
            terminalreporter.write_line(row)
        for warning in comparison_warnings(results.comparison):
            terminalreporter.write_line(f"GATE WARNING: {warning}", yellow=True, bold=True)
    for name, (count, first) in overflows.items():
        terminalreporter.write_line(f"{name}: {count} item(s) did not fit the model's context and were not sent "
                                    f"(counted wrong, no answer); first: {first}", yellow=True)
    for failure in results.gate_failures:
        terminalreporter.write_line(f"GATE FAILED: {failure.message}", red=True, bold=True)
    for check in results.inconclusive:
        terminalreporter.write_line(f"GATE INCONCLUSIVE: {check.message}", yellow=True, bold=True)
    if results.path is not None:
        terminalreporter.write_line(f"results: {results.path}")
    for line in exported:
        terminalreporter.write_line(f"exported: {line}")
