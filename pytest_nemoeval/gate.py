"""Score thresholds (`BENCH.METRIC>=VALUE`) and the gate verdict that sets the exit status."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

_THRESHOLD = re.compile(
    r"^\s*(?P<benchmark>[A-Za-z0-9_]+)\.(?P<metric>[A-Za-z0-9_@]+)\s*(?P<op>>=|<=)\s*(?P<value>[-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Threshold:
    benchmark: str
    metric: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.benchmark}.{self.metric}{self.op}{self.value:g}"

    def holds(self, actual: float) -> bool:
        return actual >= self.value if self.op == ">=" else actual <= self.value


def parse_threshold(text: str, where: str) -> Threshold:
    match = _THRESHOLD.match(text)
    if not match:
        raise pytest.UsageError(
            f"{where} {text!r}: expected BENCH.METRIC>=VALUE or BENCH.METRIC<=VALUE, e.g. mmlu_pro.accuracy>=0.70")
    try:
        value = float(match["value"])
    except ValueError:
        raise pytest.UsageError(f"{where} {text!r}: {match['value']!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise pytest.UsageError(
            f"{where} {text!r}: metric values are fractions in [0, 1]; did you mean {value / 100:g}?")
    return Threshold(match["benchmark"], match["metric"], match["op"], value)


@dataclass(frozen=True)
class GateFailure:
    threshold: Threshold
    message: str


def evaluate(thresholds: list[Threshold], benchmarks: dict[str, dict[str, Any]]) -> list[GateFailure]:
    """Check every threshold against computed metrics; record each check into its benchmark entry."""
    failures: list[GateFailure] = []
    for threshold in thresholds:
        entry = benchmarks.get(threshold.benchmark)
        if entry is None:
            continue  # benchmark not selected in this run (-k); validated as known at collection
        checks = entry.setdefault("thresholds", [])
        metric = entry["metrics"].get(threshold.metric)
        if metric is None:
            known = ", ".join(sorted(entry["metrics"]))
            message = f"{threshold}: {threshold.benchmark} reports no metric '{threshold.metric}' (reported: {known})"
            passed = False
        else:
            passed = threshold.holds(metric["value"])
            interval = metric.get("ci95")
            shown = f" (95% CI [{interval[0]:.4f}, {interval[1]:.4f}])" if interval else ""
            message = (f"{threshold.benchmark}.{threshold.metric} = {metric['value']:.4f}{shown}, "
                       f"required {threshold.op} {threshold.value:g}")
        checks.append({"metric": threshold.metric, "op": threshold.op, "value": threshold.value, "passed": passed})
        if not passed:
            failures.append(GateFailure(threshold, message))
    return failures
