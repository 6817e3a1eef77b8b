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
