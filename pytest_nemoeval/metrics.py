"""Built-in metrics: accuracy, pass@1, unbiased pass@k, majority@k, no_answer.

Every interval is computed over samples: the repeats of one sample are averaged first, because they
are not independent draws (cluster-robust standard error with the sample as the cluster).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Sequence

import pytest

Z95 = 1.959963984540054


@dataclass
class SampleOutcome:
    """The verdicts of one sample's repeats, in repeat order; `inputs`: each verdict's `metric_inputs`."""

    index: int
    correct: list[bool]
    answers: list[Any]
    inputs: list[dict[str, Any] | None] = field(default_factory=list)


def summarize(values: list[float]) -> dict[str, Any]:
    n = len(values)
    if n == 0:
        return {"value": 0.0, "stderr": 0.0, "ci95": [0.0, 0.0]}
    mean = sum(values) / n
    if n > 1:
        variance = sum((value - mean) ** 2 for value in values) / (n - 1)
        stderr = math.sqrt(variance / n)
    else:
        stderr = 0.0
    return _interval(mean, stderr)


def ratio_summary(numerators: list[float], denominators: list[float]) -> dict[str, Any]:
    """sum(y) / sum(x) over samples (e.g. instructions followed / instructions), with the linearized
    standard error of a ratio estimator, clustered by sample."""
    n, total = len(numerators), sum(denominators)
    if n == 0 or total == 0:
        return summarize([])
    value = sum(numerators) / total
    if n > 1:
        residuals = sum((y - value * x) ** 2 for y, x in zip(numerators, denominators))
        stderr = math.sqrt(n / (n - 1) * residuals) / total
    else:
        stderr = 0.0
    return _interval(value, stderr)


def _interval(value: float, stderr: float) -> dict[str, Any]:
    return {"value": value, "stderr": stderr,
            "ci95": [max(0.0, value - Z95 * stderr), min(1.0, value + Z95 * stderr)]}


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021): 1 - C(n-c, k) / C(n, k)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def majority_correct(outcome: SampleOutcome) -> float:
    """NeMo Skills' majority@k: votes are counted on (answer, correct) pairs and the score is the mean over the
    pairs tied for the most votes; no answer does not vote; no vote at all scores 0."""
    votes = Counter((_vote(answer), bool(correct))
                    for answer, correct in zip(outcome.answers, outcome.correct) if answer is not None)
    if not votes:
        return 0.0
    most = max(votes.values())
    tied = [correct for (_, correct), count in votes.items() if count == most]
    return sum(tied) / len(tied)


def _vote(answer: Any) -> Hashable:
    """The answer as a vote: itself, or its JSON when it cannot be hashed (e.g. decoded tool calls)."""
    try:
        hash(answer)
    except TypeError:
        return json.dumps(answer, sort_keys=True, default=str)
    return answer


def ks_for(repeats: int) -> list[int]:
    ks = [k for k in (2 ** i for i in range(1, 20)) if k < repeats]
    return ks + [repeats] if repeats > 1 else []


@pytest.hookimpl
def pytest_nemoeval_metrics(benchmark: str, outcomes: list[SampleOutcome], repeats: int) -> dict[str, Any]:
    scored = [outcome for outcome in outcomes if outcome.correct]
    per_sample = [sum(outcome.correct) / len(outcome.correct) for outcome in scored]
    pass1 = summarize(per_sample)
    metrics: dict[str, Any] = {"accuracy": pass1, "pass@1": dict(pass1)}
    for k in ks_for(repeats):
        eligible = [outcome for outcome in scored if len(outcome.correct) >= k]
        metrics[f"pass@{k}"] = summarize(
            [pass_at_k(len(outcome.correct), sum(outcome.correct), k) for outcome in eligible])
    if repeats > 1 and any(answer is not None for outcome in scored for answer in outcome.answers):
        metrics[f"majority@{repeats}"] = summarize([majority_correct(outcome) for outcome in scored])
    no_answer = [sum(answer is None for answer in outcome.answers) / len(outcome.answers) for outcome in scored]
    metrics["no_answer"] = summarize(no_answer)
    return metrics


MetricFunction = Callable[[list[SampleOutcome], int], dict[str, Any]]


def benchmark_metrics(hook: Any, benchmark: str, outcomes: list[SampleOutcome], repeats: int,
                      own: Sequence[MetricFunction]) -> dict[str, Any]:
    """Every metric of one benchmark: the hook's (built-in and third-party plugins'), then the suite's own."""
    metrics: dict[str, Any] = {}
    for produced in hook.pytest_nemoeval_metrics(benchmark=benchmark, outcomes=outcomes, repeats=repeats):
        metrics.update(produced or {})
    for function in own:
        metrics.update(function(outcomes, repeats) or {})
    return metrics
