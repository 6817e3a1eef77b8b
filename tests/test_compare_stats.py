"""The comparison's statistics against hand-computed values and scipy.stats."""

from __future__ import annotations

import math
import random

import pytest
from scipy import stats as scipy_stats

from pytest_nemoeval.compare.stats import (GO, INCONCLUSIVE, INSUFFICIENT, NO_GO, Z95, mcnemar_exact, paired_delta,
                                           samples_needed, verdict)


def test_paired_delta_by_hand():
    # differences [1, 0, 0, -1]: mean 0, sample variance (1 + 0 + 0 + 1) / 3, stderr sqrt(2/3 / 4)
    delta = paired_delta([1.0, 0.0, 0.0, -1.0])
    assert delta.n == 4 and delta.mean == 0.0
    assert delta.sd == pytest.approx(math.sqrt(2 / 3))
    assert delta.stderr == pytest.approx(math.sqrt(2 / 3 / 4))
    assert delta.ci95 == pytest.approx((-Z95 * math.sqrt(1 / 6), Z95 * math.sqrt(1 / 6)))


def test_paired_delta_matches_scipy_paired_t_statistics():
    rng = random.Random(7)
    base = [rng.random() for _ in range(200)]
    cand = [min(1.0, b + rng.gauss(-0.02, 0.1)) for b in base]
    delta = paired_delta([c - b for b, c in zip(base, cand)])
    test = scipy_stats.ttest_rel(cand, base)
    assert delta.mean / delta.stderr == pytest.approx(test.statistic)
    assert delta.stderr == pytest.approx(scipy_stats.sem([c - b for b, c in zip(base, cand)]))
    assert Z95 == pytest.approx(scipy_stats.norm.ppf(0.975), abs=1e-15)


@pytest.mark.parametrize("worse,better", [(0, 0), (1, 0), (3, 1), (5, 5), (12, 3), (0, 9), (40, 61), (200, 170),
                                          (700, 650), (16000, 16500), (0, 2000)])
def test_mcnemar_is_the_exact_binomial_test(worse, better):
    expected = 1.0 if worse + better == 0 else scipy_stats.binomtest(worse, worse + better, 0.5).pvalue
    assert mcnemar_exact(worse, better) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_mcnemar_by_hand():
    # 3 right->wrong, 1 wrong->right: 2 * P(X <= 1 | n=4) = 2 * (1 + 4) / 16
    assert mcnemar_exact(3, 1) == pytest.approx(10 / 16)


def test_verdict_rule():
    same = paired_delta([0.0] * 10)
    assert verdict(same, 0.01) == GO  # interval [0, 0] lies above -0.01
    assert verdict(same, 0.0) == INCONCLUSIVE  # lower bound 0 is not above -0
    assert verdict(paired_delta([0.0] * 9), 0.01) == INSUFFICIENT
    worse = paired_delta([-1.0] * 8 + [0.0] * 12)  # mean -0.4, interval well below -0.01
    assert worse.ci95[1] < -0.01 and verdict(worse, 0.01) == NO_GO
    assert verdict(worse, 0.9) == GO  # allowed to drop 90 points
    noisy = paired_delta([-1.0, 1.0] * 10 + [-1.0])
    assert verdict(noisy, 0.01) == INCONCLUSIVE
    # lower is better: the same fall is a gain
    assert verdict(worse, 0.01, higher_is_better=False) == GO


def test_samples_needed_at_the_observed_variance():
    delta = paired_delta([-1.0, 1.0] * 10 + [1.0] * 2)  # n 22, mean 2/22
    needed = samples_needed(delta, 0.01)
    assert needed == math.ceil((Z95 * delta.sd / (delta.mean + 0.01)) ** 2)
    # at that n the same mean and sd give a GO, one fewer does not
    stderr = delta.sd / math.sqrt(needed)
    assert delta.mean - Z95 * stderr > -0.01
    assert delta.mean - Z95 * delta.sd / math.sqrt(needed - 1) <= -0.01
    assert samples_needed(paired_delta([-0.01] * 20), 0.01) is None
