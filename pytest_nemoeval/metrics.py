"""Built-in metrics: accuracy, pass@1, unbiased pass@k, majority@k, no_answer, error_rate.

Every metric divides by every sample that ran, as NeMo Skills divides by all entries: an item that errored
(generation failed after its retries, a judge or scorer error) is incorrect and has no answer. Every interval
is computed over samples: the repeats of one sample are averaged first, because they are not independent
draws (cluster-robust standard error with the sample as the cluster). Each summary says how many samples it
covers (`samples`).
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
    """One sample's repeats, in repeat order: `correct`, `answers`, `inputs` (each verdict's `metric_inputs`)
    and `errors` (the error of a repeat that errored, else None).

    A repeat that errored is incorrect with no answer, whatever `correct` and `answers` hold for it; its inputs
    are what the suite's `failed_inputs` derives from the row (e.g. its instruction count), else None.
    `inputs` and `errors` are padded with None to the number of repeats.
    """

    index: int
    correct: list[bool]
    answers: list[Any]
    inputs: list[dict[str, Any] | None] = field(default_factory=list)
    errors: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        repeats = len(self.correct)
        self.inputs = list(self.inputs) + [None] * (repeats - len(self.inputs))
        self.errors = list(self.errors) + [None] * (repeats - len(self.errors))
        self.correct = [bool(correct) and error is None for correct, error in zip(self.correct, self.errors)]
        self.answers = [answer if error is None else None for answer, error in zip(self.answers, self.errors)]

    def errored(self, repeat: int) -> bool:
        return self.errors[repeat] is not None


def summarize(values: list[float]) -> dict[str, Any]:
    """The mean of per-sample values, with its standard error and 95 % interval."""
    n = len(values)
    if n == 0:
        return _interval(0.0, 0.0, 0)
    mean = sum(values) / n
    if n > 1:
        variance = sum((value - mean) ** 2 for value in values) / (n - 1)
        stderr = math.sqrt(variance / n)
    else:
        stderr = 0.0
    return _interval(mean, stderr, n)


def ratio_summary(numerators: list[float], denominators: list[float], low: float = 0.0) -> dict[str, Any]:
    """sum(y) / sum(x) over samples (e.g. instructions followed / instructions), with the linearized
    standard error of a ratio estimator, clustered by sample; `low`: the least value the ratio can take (the
    interval is clipped to [low, 1])."""
    n, total = len(numerators), sum(denominators)
    if n == 0 or total == 0:
        return summarize([])
    value = sum(numerators) / total
    if n > 1:
        residuals = sum((y - value * x) ** 2 for y, x in zip(numerators, denominators))
        stderr = math.sqrt(n / (n - 1) * residuals) / total
    else:
        stderr = 0.0
    return _interval(value, stderr, n, low)


def _interval(value: float, stderr: float, samples: int, low: float = 0.0) -> dict[str, Any]:
    return {"value": value, "stderr": stderr,
            "ci95": [max(low, value - Z95 * stderr), min(1.0, value + Z95 * stderr)], "samples": samples}


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021): 1 - C(n-c, k) / C(n, k)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def majority_correct(outcome: SampleOutcome) -> float:
    """NeMo Skills' majority@k: votes are counted on (answer, correct) pairs and the score is the mean over the
    pairs tied for the most votes; no answer (an error included) does not vote; no vote at all scores 0."""
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
    pass1 = summarize([sum(outcome.correct) / len(outcome.correct) for outcome in outcomes])
    metrics: dict[str, Any] = {"accuracy": pass1, "pass@1": dict(pass1)}
    for k in ks_for(repeats):
        eligible = [outcome for outcome in outcomes if len(outcome.correct) >= k]
        metrics[f"pass@{k}"] = summarize(
            [pass_at_k(len(outcome.correct), sum(outcome.correct), k) for outcome in eligible])
    if repeats > 1 and any(answer is not None for outcome in outcomes for answer in outcome.answers):
        metrics[f"majority@{repeats}"] = summarize([majority_correct(outcome) for outcome in outcomes])
    metrics["no_answer"] = summarize(
        [sum(answer is None for answer in outcome.answers) / len(outcome.answers) for outcome in outcomes])
    metrics["error_rate"] = ratio_summary([sum(error is not None for error in outcome.errors) for outcome in outcomes],
                                          [len(outcome.correct) for outcome in outcomes])
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


def rounded(metrics: dict[str, Any]) -> dict[str, Any]:
    """Metric summaries with floats to 6 decimals, as results.json keeps them."""
    def rnd(value: Any) -> Any:
        if isinstance(value, float):
            return round(value, 6)
        if isinstance(value, list):
            return [rnd(v) for v in value]
        if isinstance(value, dict):
            return {k: rnd(v) for k, v in value.items()}
        return value

    return {name: rnd(values) for name, values in metrics.items()}
