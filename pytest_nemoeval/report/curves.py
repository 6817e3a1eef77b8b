"""Curves: a suite's metrics that form lines over a numeric axis (RULER: each task's score, and their average, by
context length), declared by the suite (`Suite(curve=Curve(...))`), listed in results.json (`curve`) and drawn
with their table in the HTML report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Curve:
    """Which metrics are points of a curve: `point(metric name)` gives (its line, its x) or None."""

    axis: str  # the x axis's title, e.g. "context length (tokens)"
    point: Callable[[str], tuple[str, int] | None]
    label: Callable[[int], str] = str  # x -> its tick label (RULER: 4096 -> "4K")
    lines: str = "line"  # what a line is, the table's first column (RULER: "task")
    average: str | None = None  # the line that averages the others: drawn apart, listed last
    log2: bool = False  # an x axis of powers of two


def curve_entry(curve: Curve, metrics: dict[str, Any]) -> dict[str, Any] | None:
    """results.json's `curve` of a benchmark: the axis, its x values and labels, and per line the metric name of
    each point (None where that line has no point at that x); None when no metric is a point."""
    points: dict[str, dict[int, str]] = {}
    for name in metrics:
        found = curve.point(name)
        if found is not None:
            points.setdefault(found[0], {})[found[1]] = name
    if not points:
        return None
    xs = sorted({x for line in points.values() for x in line})
    order = sorted(line for line in points if line != curve.average)
    if curve.average in points:
        order.append(curve.average)
    return {"axis": curve.axis, "scale": "log2" if curve.log2 else "linear", "x": xs,
            "labels": [curve.label(x) for x in xs], "lines_are": curve.lines, "average": curve.average,
            "lines": {line: [points[line].get(x) for x in xs] for line in order}}
