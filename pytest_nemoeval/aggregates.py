"""Cross-benchmark aggregates (recipe `aggregates:`): the unweighted mean of one metric over several benchmarks,
e.g. tau2-bench's average over its domains, with its standard error, members present and missing, and thresholds
that gate it like a benchmark's.

```yaml
aggregates:
  tau2_average: {of: [tau2_airline, tau2_retail, tau2_telecom], metric: pass@1, thresholds: ["pass@1>=0.6264"]}
```

The mean is the plain mean of the members' values, as the Nemotron 3 Super evaluation reports tau2-bench's average
(NVIDIA-NeMo/Nemotron docs/nemotron/super3/evaluate.md: airline 66.20, retail 62.80, telecom 64.91, average
64.64). The members are independent samples, so the standard error is sqrt(sum se_i^2) / n. An aggregate whose
members did not all give a value (left out by -k, unscored) is reported incomplete, without a value, and its
thresholds decide nothing; one none of whose members ran is left out, as a benchmark none of whose items ran.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from pytest_nemoeval.gate import GateFailure, Threshold, parse_threshold, threshold_failures
from pytest_nemoeval.metrics import Z95, rounded
from pytest_nemoeval.options import AGGREGATE_KEYS

PRIMARY = "primary"  # the metric's name when the members' primary metrics are not all the same
_NAME = re.compile(r"^[A-Za-z0-9_]+$")  # a benchmark's or an aggregate's name, as thresholds write it
_METRIC = re.compile(r"^[A-Za-z0-9_@^]+$")  # a metric's name, as thresholds write it


def validate(section: Any, where: str) -> None:
    """The recipe's `aggregates:` (structure only; whether the members are suites is checked at collection)."""
    if not isinstance(section, dict):
        raise pytest.UsageError(f"{where}: 'aggregates' must be a mapping of aggregate name to "
                                "{of: [benchmarks], metric, thresholds}")
    for name, spec in section.items():
        prefix = f"aggregates.{name}"
        if not _NAME.match(str(name)):
            raise pytest.UsageError(f"{where}: '{prefix}': an aggregate's name is letters, digits and _ only")
        if not isinstance(spec, dict):
            raise pytest.UsageError(f"{where}: '{prefix}' must be a mapping like {{of: [bench_a, bench_b]}}")
        unknown = sorted(set(spec) - AGGREGATE_KEYS)
        if unknown:
            raise pytest.UsageError(
                f"{where}: unknown key '{prefix}.{unknown[0]}' (known: {', '.join(sorted(AGGREGATE_KEYS))})")
        members = spec.get("of")
        if not isinstance(members, list) or not members or not all(isinstance(m, str) for m in members):
            raise pytest.UsageError(f"{where}: '{prefix}.of' must be a non-empty list of benchmark names, "
                                    f"got {members!r}")
        if len(set(members)) != len(members):
            raise pytest.UsageError(f"{where}: '{prefix}.of' names a benchmark twice: {members!r}")
        metric = spec.get("metric")
        if metric is not None and not (isinstance(metric, str) and _METRIC.match(metric)):
            raise pytest.UsageError(f"{where}: '{prefix}.metric' must be a metric name like pass@1, got {metric!r} "
                                    "(leave it out for each member's primary metric)")
        thresholds = spec.get("thresholds") or []
        if not isinstance(thresholds, list):
            raise pytest.UsageError(f"{where}: '{prefix}.thresholds' must be a list like ['pass@1>=0.6']")
        for text in thresholds:
            threshold = parse_threshold(f"{name}.{text}", "recipe")
            if metric is not None and threshold.metric != metric:
                raise pytest.UsageError(f"{where}: '{prefix}.thresholds' {text!r} names the metric "
                                        f"'{threshold.metric}'; the aggregate's is '{metric}'")


def thresholds(section: dict[str, Any] | None) -> list[Threshold]:
    """The aggregates' thresholds, as `NAME.METRIC>=VALUE` like a benchmark's (--threshold takes them too)."""
    return [parse_threshold(f"{name}.{text}", "recipe")
            for name, spec in (section or {}).items() for text in (spec or {}).get("thresholds") or []]


def check_names(section: dict[str, Any] | None, known: set[str], covered: frozenset[str] | None) -> None:
    """At collection: each member is a suite, no aggregate is named like one, and a recipe that names its
    benchmarks runs every member (`covered`: those, or None when the run covers every suite)."""
    for name, spec in (section or {}).items():
        if name in known:
            raise pytest.UsageError(f"aggregate '{name}' has the name of a benchmark: name the aggregate otherwise")
        for member in spec["of"]:
            if member not in known:
                raise pytest.UsageError(f"unknown benchmark '{member}' in aggregates.{name}.of "
                                        f"(known: {', '.join(sorted(known))})")
            if covered is not None and member not in covered:
                raise pytest.UsageError(f"aggregates.{name}.of names {member}, which the recipe's benchmarks leave "
                                        f"out: add benchmarks.{member} to the recipe, or drop it from the aggregate")


def aggregate(section: dict[str, Any] | None, benchmarks: dict[str, dict[str, Any]], run_thresholds: list[Threshold],
              gate_on: str = "point") -> tuple[dict[str, dict[str, Any]], list[GateFailure]]:
    """results.json's `aggregates` and the failures of their thresholds (GateFailure, as a benchmark's)."""
    entries = {name: entry for name, spec in (section or {}).items()
               if (entry := _entry(spec, benchmarks)) is not None}
    failures: list[GateFailure] = []
    complete = {name: entry for name, entry in entries.items() if entry["complete"]}
    failures += threshold_failures([t for t in run_thresholds if t.benchmark in complete], complete, gate_on)
    for threshold in run_thresholds:
        entry = entries.get(threshold.benchmark)
        if entry is None or entry["complete"]:
            continue
        check: dict[str, Any] = {"metric": threshold.metric, "op": threshold.op, "value": threshold.value}
        lacking = [f"{member} reports no metric '{entry['metric']}'" for member, why in entry["missing"].items()
                   if why == "no such metric"]
        if lacking:  # a mistake in the aggregate, not a member yet to run: it fails, as a benchmark's threshold
            failures.append(GateFailure(threshold.benchmark, f"{threshold}: {'; '.join(lacking)}"))
            entry["thresholds"].append({**check, "passed": False})
        else:
            entry["thresholds"].append({**check, "passed": None, "incomplete": True})
    return entries, failures


def regrade(document: dict[str, Any], graded: list[str]) -> list[str]:
    """`python -m pytest_nemoeval grade` scored `graded`: the aggregates they left incomplete (unscored members)
    computed and gated into results.json; the messages of the thresholds that failed."""
    config = document["config"]
    before = document.get("aggregates") or {}
    section = {name: spec for name, spec in (config.get("aggregates") or {}).items()
               if any(before.get(name, {}).get("missing", {}).get(member) == "unscored" for member in graded)}
    if not section:
        return []
    run_thresholds = [parse_threshold(text, "results.json") for text in config.get("thresholds") or []]
    entries, failed = aggregate(section, document["benchmarks"], run_thresholds, config.get("gate_on") or "point")
    document["aggregates"] = {**before, **entries}
    gate = document["gate"]
    failures = [failure.message for failure in failed if not failure.inconclusive]
    gate["failures"] = gate["failures"] + failures
    gate["passed"] = not gate["failures"]
    undecided = [failure.message for failure in failed if failure.inconclusive]
    if undecided:
        gate["inconclusive"] = gate.get("inconclusive", []) + undecided
    return failures


def _entry(spec: dict[str, Any], benchmarks: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    members = spec["of"]
    ran = [benchmarks[member] for member in members if member in benchmarks]
    if not ran:
        return None
    metric = spec.get("metric")
    if metric is None:
        primaries = {entry["primary_metric"] for entry in ran}
        metric = primaries.pop() if len(primaries) == 1 else PRIMARY
    values: dict[str, dict[str, Any]] = {}
    missing: dict[str, str] = {}
    for member in members:
        entry = benchmarks.get(member)
        name = entry["primary_metric"] if entry is not None and spec.get("metric") is None else metric
        if entry is None:
            missing[member] = "not run"
        elif "unscored" in entry:
            missing[member] = "unscored"
        elif name not in entry["metrics"]:
            missing[member] = "no such metric"
        else:
            summary = entry["metrics"][name]
            values[member] = {"metric": name, "value": summary["value"], "stderr": summary.get("stderr", 0.0)}
    result: dict[str, Any] = {"of": list(members), "metric": metric, "members": values, "missing": missing,
                              "complete": not missing, "metrics": {}, "thresholds": []}
    if not missing:
        count = len(values)
        mean = sum(value["value"] for value in values.values()) / count
        stderr = math.sqrt(sum(value["stderr"] ** 2 for value in values.values())) / count  # independent samples
        result["metrics"] = rounded({metric: {"value": mean, "stderr": stderr, "members": count,
                                              "ci95": [max(0.0, mean - Z95 * stderr), min(1.0, mean + Z95 * stderr)]}})
    return result


def aggregate_rows(entries: dict[str, dict[str, Any]], failed: set[str]) -> list[str]:
    """One terminal line per aggregate, after the benchmarks' score lines."""
    lines = []
    for name, entry in entries.items():
        gate = "FAILED" if name in failed else ("passed" if entry["thresholds"] else "no threshold")
        if not entry["complete"]:
            missing = ", ".join(f"{member}: {why}" for member, why in entry["missing"].items())
            gate = "FAILED" if name in failed else "not gated"
            lines.append(f"{name}: incomplete, {len(entry['members'])} of {len(entry['of'])} members "
                         f"(missing {missing}): no mean  gate: {gate}")
            continue
        metric = entry["metrics"][entry["metric"]]
        low, high = metric["ci95"]
        lines.append(f"{name}: {entry['metric']} {metric['value']:.4f} (95% CI {low:.4f}-{high:.4f}, stderr "
                     f"{metric['stderr']:.4f})  mean of {', '.join(entry['of'])}  gate: {gate}")
    return lines
