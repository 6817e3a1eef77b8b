"""Score thresholds (`BENCH.METRIC>=VALUE`), the error-rate limit, and the gate verdict that sets the exit status."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

GATE_ON = ("point", "ci")  # --gate-on: a threshold holds on the point estimate, or on the 95 % interval
_THRESHOLD = re.compile(
    r"^\s*(?P<benchmark>[A-Za-z0-9_]+)\.(?P<metric>[A-Za-z0-9_@^]+)\s*(?P<op>>=|<=)\s*(?P<value>[-+0-9.eE]+)\s*$")


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

    def holds_on_interval(self, low: float, high: float) -> bool | None:
        """True when the whole interval meets the value, False when none of it does, None (INCONCLUSIVE) else."""
        inside, outside = (low >= self.value, high < self.value) if self.op == ">=" else \
            (high <= self.value, low > self.value)
        return True if inside else (False if outside else None)


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
    benchmark: str
    message: str
    inconclusive: bool = False  # --gate-on ci: the interval straddles the threshold


def evaluate(thresholds: list[Threshold], benchmarks: dict[str, dict[str, Any]], max_error_rate: float,
             first_errors: dict[str, str | None], gate_on: str = "point") -> list[GateFailure]:
    """The error rate of every benchmark, then every threshold, checked against computed metrics (each
    threshold check is recorded into its benchmark entry)."""
    failures = [failure for name, entry in benchmarks.items()
                if (failure := error_rate_failure(name, entry, max_error_rate, first_errors.get(name)))]
    return failures + threshold_failures(thresholds, benchmarks, gate_on)


def error_rate_failure(benchmark: str, entry: dict[str, Any], max_error_rate: float,
                       first_error: str | None) -> GateFailure | None:
    """More items errored than --max-error-rate allows: the score stands on too few answers to be trusted."""
    errors, items = entry["errors"], entry["items"]
    if not items or errors / items <= max_error_rate:
        return None
    limit = _percent(max_error_rate)
    decimals = len(limit.rstrip("%").partition(".")[2])
    first = ((first_error or "").strip().splitlines() or ["(no message)"])[0]
    first = first if len(first) <= 200 else first[:199] + "…"
    from pytest_nemoeval.failures import summary

    classes = f"; {summary(entry['failures'])}" if entry.get("failures") else ""
    return GateFailure(benchmark, f"{benchmark}: {errors} of {items} items errored ({errors / items:.{decimals}%} > "
                                  f"{limit}{classes}), more than --max-error-rate allows; first error: {first}")


def _percent(fraction: float) -> str:
    """A fraction as a percentage with as few decimals as it needs, at least one: 0.01 -> 1.0%, 0.0025 -> 0.25%."""
    for decimals in range(1, 8):
        text = f"{fraction:.{decimals}%}"
        if abs(float(text[:-1]) / 100 - fraction) < 1e-12:
            return text
    return f"{fraction:.8%}"


def threshold_failures(thresholds: list[Threshold], benchmarks: dict[str, dict[str, Any]],
                       gate_on: str = "point") -> list[GateFailure]:
    failures: list[GateFailure] = []
    for threshold in thresholds:
        entry = benchmarks.get(threshold.benchmark)
        if entry is None:
            continue  # benchmark not selected in this run (-k); validated as known at collection
        checks = entry.setdefault("thresholds", [])
        if "unscored" in entry:  # no score to hold against the value: decided neither way, and said so
            checks.append({"metric": threshold.metric, "op": threshold.op, "value": threshold.value, "passed": None,
                           "unscored": True})
            failures.append(GateFailure(threshold.benchmark, f"{threshold}: {threshold.benchmark} is unscored "
                                                             f"({entry['unscored']})", inconclusive=True))
            continue
        metric = entry["metrics"].get(threshold.metric)
        if metric is None:
            known = ", ".join(sorted(entry["metrics"]))
            message = f"{threshold}: {threshold.benchmark} reports no metric '{threshold.metric}' (reported: {known})"
            passed: bool | None = False
        else:
            interval = metric.get("ci95")
            on_ci = gate_on == "ci" and interval is not None
            passed = threshold.holds_on_interval(*interval) if on_ci else threshold.holds(metric["value"])
            shown = f" (95% CI [{interval[0]:.4f}, {interval[1]:.4f}])" if interval else ""
            message = (f"{threshold.benchmark}.{threshold.metric} = {metric['value']:.4f}{shown}, "
                       f"required {threshold.op} {threshold.value:g}" + (" by the whole CI" if on_ci else ""))
            if passed is None:
                message = f"{message}: the CI straddles {threshold.value:g}"
        check = {"metric": threshold.metric, "op": threshold.op, "value": threshold.value, "passed": passed}
        checks.append(check if gate_on == "point" else {**check, "gate_on": gate_on})
        if not passed:
            failures.append(GateFailure(threshold.benchmark, message, inconclusive=passed is None))
    return failures
