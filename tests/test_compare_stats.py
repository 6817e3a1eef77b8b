"""The comparison's statistics against hand-computed values and scipy.stats."""

from __future__ import annotations

import math
import random

import pytest
from scipy import stats as scipy_stats

from pytest_nemoeval.compare.stats import (GO, INCONCLUSIVE, INSUFFICIENT, NO_GO, Z80, Z95, clustered_delta, holm,
                                           mcnemar_exact, minimum_detectable_effect, paired_delta, regression_p,
                                           samples_needed, sign_flip_p, verdict)


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


def test_clustered_stderr_by_hand():
    # differences [1, 1, 0, 0, -1, 1] in clusters a a b b c c: mean 1/3; residual sums per cluster
    # a: 2/3 + 2/3 = 4/3, b: -2/3, c: -4/3 + 2/3 = -2/3; SE^2 = 3/2 * (16/9 + 4/9 + 4/9) / 36
    delta = clustered_delta([1.0, 1.0, 0.0, 0.0, -1.0, 1.0], ["a", "a", "b", "b", "c", "c"])
    assert delta.mean == pytest.approx(1 / 3) and delta.clusters == 3
    assert delta.stderr == pytest.approx(math.sqrt(1.5 * (24 / 9) / 36))
    # one cluster: the plain paired stderr
    single = clustered_delta([1.0, 0.0, 0.0, -1.0], ["a"] * 4)
    assert single == paired_delta([1.0, 0.0, 0.0, -1.0]) and single.clusters == 0


def test_clustered_stderr_matches_the_sandwich_estimator():
    # the cluster-robust (CR1 with G / (G - 1)) variance of an intercept-only regression: (X'X)^-1 (sum_g u_g u_g')
    # (X'X)^-1 * G / (G - 1) with X a column of ones, built here with scipy's linear algebra
    import numpy as np
    from scipy import linalg

    rng = random.Random(3)
    clusters = [f"c{rng.randrange(8)}" for _ in range(300)]
    effect = {name: rng.gauss(0, 0.3) for name in set(clusters)}
    differences = [effect[c] + rng.gauss(0, 0.5) for c in clusters]
    x = np.ones((300, 1))
    bread = linalg.inv(x.T @ x)
    residual = np.array(differences) - np.mean(differences)
    members = {group: [i for i, c in enumerate(clusters) if c == group] for group in set(clusters)}
    meat = sum(np.outer(x[rows].T @ residual[rows], x[rows].T @ residual[rows]) for rows in members.values())
    groups = len(set(clusters))
    variance = (bread @ meat @ bread)[0, 0] * groups / (groups - 1)
    assert clustered_delta(differences, clusters).stderr == pytest.approx(math.sqrt(variance))
    assert clustered_delta(differences, clusters).stderr > paired_delta(differences).stderr  # correlated clusters


def test_sign_flip_permutation_matches_scipy():
    differences = [0.5, -0.25, 1.0, 0.75, 0.5, 0.1, -0.3, 0.2, 0.0]  # the 0 has no sign: left out
    exact = scipy_stats.permutation_test((differences[:-1],), lambda x: sum(x) / len(x), n_resamples=math.inf,
                                         permutation_type="samples", alternative="two-sided")
    assert sign_flip_p(differences) == pytest.approx(exact.pvalue)
    rng = random.Random(1)
    many = [rng.gauss(0.04, 0.3) for _ in range(200)]
    sampled = scipy_stats.permutation_test((many,), lambda x: sum(x) / len(x), n_resamples=20000,
                                           permutation_type="samples", alternative="two-sided", random_state=0)
    assert sign_flip_p(many) == pytest.approx(sampled.pvalue, abs=0.02)
    assert sign_flip_p(many, seed=5) == sign_flip_p(many, seed=5)  # seeded: the same p every run
    assert sign_flip_p([0.0] * 20) == 1.0


def test_regression_p_is_the_one_sided_test_the_no_go_verdict_reads():
    rng = random.Random(11)
    for _ in range(200):
        differences = [rng.choice([-1.0, 0.0, 0.0, 1.0]) + rng.gauss(-0.1, 0.2) for _ in range(rng.randrange(10, 80))]
        delta = paired_delta(differences)
        for higher in (True, False):
            p = regression_p(delta, 0.02, higher)
            gain = delta.mean if higher else -delta.mean
            assert p == pytest.approx(scipy_stats.norm.cdf((gain + 0.02) / delta.stderr))
            assert (p < 0.025) == (verdict(delta, 0.02, higher) == NO_GO)


def test_holm_by_hand():
    # p sorted 0.005, 0.01, 0.03, 0.04 of m = 4: 4 * 0.005 = 0.02, 3 * 0.01 = 0.03, 2 * 0.03 = 0.06, max(0.06, 0.04)
    adjusted = holm({"a": 0.03, "b": 0.005, "c": 0.04, "d": 0.01})
    assert adjusted == pytest.approx({"b": 0.02, "d": 0.03, "a": 0.06, "c": 0.06})
    assert holm({"only": 0.01}) == {"only": 0.01} and holm({}) == {}
    assert holm({"a": 0.6, "b": 0.5})["a"] == 1.0  # capped


def test_minimum_detectable_effect_has_80_percent_power():
    assert Z80 == pytest.approx(scipy_stats.norm.ppf(0.8)) and Z95 == pytest.approx(scipy_stats.norm.ppf(0.975))
    delta = paired_delta([1.0, 0.0, 0.0, -1.0, 1.0, 0.0, 1.0, -1.0, 0.0, 0.0, 1.0, 0.0])
    mde = minimum_detectable_effect(delta)
    assert mde == pytest.approx((Z95 + Z80) * delta.stderr)
    # a true change of mde is outside the 95 % interval around 0 with probability 0.8 (the far tail is negligible)
    power = scipy_stats.norm.sf(Z95 - mde / delta.stderr) + scipy_stats.norm.cdf(-Z95 - mde / delta.stderr)
    assert power == pytest.approx(0.8, abs=1e-4)
