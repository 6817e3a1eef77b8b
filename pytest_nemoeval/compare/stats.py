"""The statistics of a paired comparison: per-sample differences, their mean with a 95 % interval, the exact
McNemar test, the verdict against `max_drop` and the samples a verdict would need.

One place for all of it, without scipy (the tests check it against scipy.stats); the z of the 95 % interval is the
metrics' own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pytest_nemoeval.metrics import Z95
MIN_PAIRS = 10  # fewer paired samples than this: INSUFFICIENT, no verdict

GO, NO_GO, INCONCLUSIVE, INSUFFICIENT = "GO", "NO-GO", "INCONCLUSIVE", "INSUFFICIENT"


@dataclass(frozen=True)
class PairedDelta:
    """The mean of per-sample differences (candidate - baseline), its stderr (n - 1) and 95 % interval."""

    n: int
    mean: float
    sd: float
    stderr: float

    @property
    def ci95(self) -> tuple[float, float]:
        return self.mean - Z95 * self.stderr, self.mean + Z95 * self.stderr


def paired_delta(differences: list[float]) -> PairedDelta:
    n = len(differences)
    if n == 0:
        return PairedDelta(0, 0.0, 0.0, 0.0)
    mean = math.fsum(differences) / n
    sd = math.sqrt(math.fsum((d - mean) ** 2 for d in differences) / (n - 1)) if n > 1 else 0.0
    return PairedDelta(n, mean, sd, sd / math.sqrt(n))


def mcnemar_exact(worse: int, better: int) -> float:
    """Two-sided exact McNemar p-value: binomtest(worse, worse + better, 0.5), i.e. twice the smaller tail."""
    n = worse + better
    if n == 0:
        return 1.0
    k = min(worse, better)
    if n <= 1000:  # exact: integer sum over a power of two
        tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    else:  # pmf(k) in log space, then pmf(i - 1) = pmf(i) * i / (n - i + 1) down to the negligible terms
        term = math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) - n * math.log(2))
        tail = 0.0
        for i in range(k, -1, -1):
            tail += term
            if term < tail * 1e-17:
                break
            term *= i / (n - i + 1)
    return min(1.0, 2 * tail)


def verdict(delta: PairedDelta, max_drop: float, higher_is_better: bool = True) -> str:
    """NeMo Evaluator's rule: GO when the interval's lower bound is above -max_drop, NO-GO when its upper bound
    is below it, INCONCLUSIVE in between; INSUFFICIENT under MIN_PAIRS pairs. For a lower-is-better metric
    the change is read with its sign flipped (a rise is the drop)."""
    if delta.n < MIN_PAIRS:
        return INSUFFICIENT
    low, high = _gain(delta, higher_is_better)
    if low > -max_drop:
        return GO
    if high < -max_drop:
        return NO_GO
    return INCONCLUSIVE


def samples_needed(delta: PairedDelta, max_drop: float, higher_is_better: bool = True) -> int | None:
    """Paired samples at which the interval, at the observed sd and mean, would clear -max_drop
    (ceil((z * sd / distance)^2)); None when the mean sits on the line (no number of samples decides it)."""
    gain = delta.mean if higher_is_better else -delta.mean
    distance = abs(gain + max_drop)
    if distance == 0:
        return None
    return max(delta.n, math.ceil((Z95 * delta.sd / distance) ** 2))


def _gain(delta: PairedDelta, higher_is_better: bool) -> tuple[float, float]:
    low, high = delta.ci95
    return (low, high) if higher_is_better else (-high, -low)
