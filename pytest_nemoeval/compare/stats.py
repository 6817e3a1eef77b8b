"""The statistics of a paired comparison: per-sample differences, their mean with a 95 % interval (clustered by
category where the benchmark has categories), the exact McNemar test, a seeded sign-flip permutation test for
non-binary differences, the verdict against `max_drop` (and `max_relative_drop`), the one-sided p-value of a
regression and its Holm correction across the critical tier, the minimum detectable effect at 80 % power, and the
samples a verdict would need.

One place for all of it, without scipy (the tests check it against scipy.stats); the z of the 95 % interval is the
metrics' own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pytest_nemoeval.metrics import Z95

Z80 = 0.8416212335729143  # the normal quantile of 80 % power
ALPHA_ONE_SIDED = 0.025  # each side of the two-sided 95 % interval the verdicts read
PERMUTATIONS = 10_000
EXACT_UP_TO = 16  # sign patterns enumerated exactly up to 2^16
MIN_PAIRS = 10  # fewer paired samples than this: INSUFFICIENT, no verdict

GO, NO_GO, INCONCLUSIVE, INSUFFICIENT = "GO", "NO-GO", "INCONCLUSIVE", "INSUFFICIENT"


@dataclass(frozen=True)
class PairedDelta:
    """The mean of per-sample differences (candidate - baseline), its stderr (n - 1) and 95 % interval."""

    n: int
    mean: float
    sd: float
    stderr: float
    clusters: int = 0  # > 0: the stderr is clustered over this many categories

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


def clustered_delta(differences: list[float], clusters: list[str]) -> PairedDelta:
    """The mean difference with Miller (2024, "Adding Error Bars to Evals", eq. 4)'s clustered standard error:
    SE^2 = G / (G - 1) * sum_g (sum_{i in g} (d_i - mean))^2 / n^2, as NeMo Evaluator's metrics/confidence.py
    clustered_ci computes it; with fewer than two clusters, the plain paired delta."""
    plain = paired_delta(differences)
    sums: dict[str, float] = {}
    for difference, cluster in zip(differences, clusters):
        sums[cluster] = sums.get(cluster, 0.0) + difference - plain.mean
    groups = len(sums)
    if groups < 2:
        return plain
    stderr = math.sqrt(groups / (groups - 1) * math.fsum(total * total for total in sums.values())) / plain.n
    return PairedDelta(plain.n, plain.mean, stderr * math.sqrt(plain.n), stderr, groups)


def minimum_detectable_effect(delta: PairedDelta) -> float:
    """The smallest true change that the 95 % interval tells from no change with 80 % power, at this stderr."""
    return (Z95 + Z80) * delta.stderr


def regression_p(delta: PairedDelta, max_drop: float, higher_is_better: bool = True) -> float:
    """One-sided p-value of "the change is no worse than -max_drop": below 0.025 exactly when the interval's
    upper bound lies below -max_drop (NO-GO)."""
    gain = delta.mean if higher_is_better else -delta.mean
    distance = gain + max_drop
    if delta.stderr == 0:
        return 0.0 if distance < 0 else 1.0
    return 0.5 * math.erfc(-distance / delta.stderr / math.sqrt(2))  # the normal cdf at distance / stderr


def holm(p_values: dict[str, float]) -> dict[str, float]:
    """Holm's step-down adjusted p-values (family-wise error control): the i-th smallest of m is multiplied by
    m - i + 1, running maximum, capped at 1."""
    ordered = sorted(p_values.items(), key=lambda item: item[1])
    adjusted, running, m = {}, 0.0, len(ordered)
    for rank, (name, p) in enumerate(ordered):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[name] = running
    return adjusted


def sign_flip_p(differences: list[float], seed: int = 0, permutations: int = PERMUTATIONS) -> float:
    """Two-sided sign-flip permutation p-value of the mean paired difference (under no change the signs are
    exchangeable): exact over all 2^n sign patterns up to n = EXACT_UP_TO, else `permutations` seeded random
    patterns counted as (hits + 1) / (permutations + 1), as NeMo Evaluator's paired_tests.permutation_test does."""
    import numpy as np

    values = np.asarray([d for d in differences if d != 0.0], dtype=np.float64)  # a zero has no sign to flip
    n = len(values)
    if n == 0:
        return 1.0
    observed = abs(values.sum()) * (1 - 1e-12)  # a sum in another order may differ in its last bits
    if n <= EXACT_UP_TO:
        patterns = (np.arange(2 ** n)[:, None] >> np.arange(n)) & 1
        return float((np.abs((2 * patterns - 1) @ values) >= observed).mean())
    rng = np.random.default_rng(seed)
    hits, left = 0, permutations
    while left:
        chunk = min(left, max(1, 2_000_000 // n))  # bounded memory: chunk x n signs at a time
        signs = rng.integers(0, 2, size=(chunk, n), dtype=np.int8) * 2 - 1
        hits += int((np.abs(signs @ values) >= observed).sum())
        left -= chunk
    return (hits + 1) / (permutations + 1)


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
