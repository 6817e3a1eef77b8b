"""Per-category breakdowns: a benchmark's metrics over the samples of each category of its suite's
`category_field` (MMLU-Pro category, GPQA domain, LiveCodeBench difficulty, BFCL category), each with its
interval, for results.json and the `-v` terminal summary."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pytest_nemoeval.metrics import SampleOutcome, rounded

FALLBACK_METRIC = "pass@1"  # for a suite whose primary metric is its own (BFCL's overall): per category, pass@1


def category_breakdown(hook: Any, benchmark: str, outcomes: list[SampleOutcome], categories: dict[int, str],
                       category_field: str, repeats: int, primary_metric: str) -> dict[str, Any]:
    """`{"field", "metric", "by": {category: {"samples", "metrics"}}}`. The metrics of a category are the
    metric hooks' (built-in and plugins') over its samples: the primary metric when they compute it, and pass@1."""
    groups: dict[str, list[SampleOutcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[categories.get(outcome.index, "(missing)")].append(outcome)
    metric = FALLBACK_METRIC
    by: dict[str, Any] = {}
    for name in sorted(groups):
        computed: dict[str, Any] = {}
        for produced in hook.pytest_nemoeval_metrics(benchmark=benchmark, outcomes=groups[name], repeats=repeats):
            computed.update(produced or {})
        if primary_metric in computed:
            metric = primary_metric
        kept = {key: computed[key] for key in dict.fromkeys((primary_metric, FALLBACK_METRIC)) if key in computed}
        by[name] = {"samples": len(groups[name]), "metrics": rounded(kept)}
    return {"field": category_field, "metric": metric, "by": by}


def category_rows(entry: dict[str, Any]) -> list[str]:
    """The terminal lines (-v) of one benchmark's categories, under its score line."""
    breakdown = entry.get("categories")
    if not breakdown:
        return []
    metric = breakdown["metric"]
    rows = []
    for name, category in breakdown["by"].items():
        summary = category["metrics"].get(metric, {})
        low, high = summary.get("ci95", [0.0, 0.0])
        rows.append(f"  {breakdown['field']}={name}: {metric} {summary.get('value', 0.0):.4f} "
                    f"(95% CI {low:.4f}-{high:.4f}, stderr {summary.get('stderr', 0.0):.4f})  "
                    f"samples={category['samples']}")
    return rows
