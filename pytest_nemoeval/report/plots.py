"""The report's plots, drawn with matplotlib (the `plot` extra) and embedded as PNG data URIs, so that the
report needs no network and no file beside it."""

from __future__ import annotations

import base64
import io
from typing import Any

WIDTH = 7.0  # inches, at 100 dpi


def _figure(rows: int) -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display; before pyplot is imported
    from matplotlib import pyplot

    return pyplot.subplots(figsize=(WIDTH, 0.9 + 0.42 * max(rows, 1)), dpi=100)


def _data_uri(figure: Any) -> str:
    from matplotlib import pyplot

    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    pyplot.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def interval_plot(title: str, labels: list[str], summaries: list[dict[str, Any]], color: str = "#3b6ea8",
                  baseline: list[float | None] | None = None) -> str:
    """Horizontal bars of the values with their 95 % intervals as error bars (and baseline values as marks)."""
    figure, axes = _figure(len(labels))
    values = [float(summary.get("value", 0.0)) for summary in summaries]
    lows = [max(0.0, value - float(summary.get("ci95", [value, value])[0])) for value, summary in zip(values, summaries)]
    highs = [max(0.0, float(summary.get("ci95", [value, value])[1]) - value) for value, summary in zip(values, summaries)]
    positions = list(range(len(labels)))[::-1]
    axes.barh(positions, values, xerr=[lows, highs], color=color, alpha=0.85, capsize=4, height=0.6)
    if baseline is not None:
        marks = [(position, value) for position, value in zip(positions, baseline) if value is not None]
        if marks:
            axes.plot([value for _, value in marks], [position for position, _ in marks], "k|", markersize=18,
                      markeredgewidth=2, label="baseline")
            axes.legend(loc="lower right", fontsize=8)
    for position, value in zip(positions, values):  # the value itself, right of the axes
        axes.text(1.02, position, f"{value:.3f}", va="center", fontsize=8, clip_on=False)
    axes.set_yticks(positions, labels, fontsize=8)
    axes.set_xlim(0.0, 1.0)
    axes.set_xlabel("value (bars: 95% CI)", fontsize=8)
    axes.set_title(title, fontsize=10)
    axes.grid(axis="x", alpha=0.3)
    return _data_uri(figure)


def curve_plot(title: str, curve: dict[str, Any], metrics: dict[str, Any]) -> str:
    """results.json's `curve` of a benchmark: one line per entry of `lines` over the x values (the `average` line
    black and thick), each point with its 95 % interval as an error bar when its metric has one."""
    figure, axes = _figure(8)
    from matplotlib import colormaps

    xs = curve["x"]
    palette = colormaps["tab20"]  # its dark colours first, then the light ones
    for number, (line, names) in enumerate(curve["lines"].items()):
        points = [(x, metrics[name]) for x, name in zip(xs, names) if name is not None and name in metrics]
        if not points:
            continue
        values = [float(summary.get("value", 0.0)) for _, summary in points]
        intervals = [summary.get("ci95") or [value, value] for value, (_, summary) in zip(values, points)]
        errors = [[max(0.0, value - low) for value, (low, _) in zip(values, intervals)],
                  [max(0.0, high - value) for value, (_, high) in zip(values, intervals)]]
        average = line == curve.get("average")
        axes.errorbar([x for x, _ in points], values, yerr=errors, label=line, marker="o", markersize=4 if average else 3,
                      capsize=3, linewidth=2.6 if average else 1.2, color="black" if average else palette(2 * number % 20 + 2 * number // 20 % 2),
                      zorder=3 if average else 2)
    if curve.get("scale") == "log2":
        axes.set_xscale("log", base=2)
    axes.set_xticks(xs, curve["labels"], fontsize=8)
    axes.minorticks_off()
    axes.set_ylim(-0.02, 1.02)
    axes.set_xlabel(curve["axis"], fontsize=8)
    axes.set_ylabel("value (error bars: 95% CI)", fontsize=8)
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7, frameon=False)
    return _data_uri(figure)
