"""The sequential test of --until-decided (compare/sequential.py): the spending functions and boundaries by hand and
against scipy's multivariate normal, the decision rule, the pairing of extra repeats, and seeded simulations of
the whole procedure (look, add a repeat of every sample, look again) on paired outcomes whose true delta is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import multivariate_normal, norm

from pytest_nemoeval.compare.pairing import pair
from pytest_nemoeval.compare.runs import Item
from pytest_nemoeval.compare.sequential import boundaries, decide, design, sequential_verdict, spent, z_statistic
from pytest_nemoeval.compare.stats import GO, INCONCLUSIVE, NO_GO, PairedDelta, paired_delta

ALPHA = 0.025


def test_spending_functions_by_hand():
    z = norm.ppf(1 - ALPHA / 2)  # 2.2414
    assert spent(0.5, ALPHA, "obrien-fleming") == pytest.approx(2 - 2 * norm.cdf(z / math.sqrt(0.5)), rel=1e-9)
    assert spent(0.5, ALPHA, "obrien-fleming") == pytest.approx(0.0015258, abs=1e-6)
    assert spent(0.5, ALPHA, "pocock") == pytest.approx(ALPHA * math.log(1 + (math.e - 1) * 0.5), rel=1e-12)
    assert spent(0.5, ALPHA, "pocock") == pytest.approx(0.015503, abs=1e-6)
    for spending in ("pocock", "obrien-fleming"):
        assert spent(1.0, ALPHA, spending) == pytest.approx(ALPHA) and spent(0.0, ALPHA, spending) == 0.0
    with pytest.raises(ValueError, match="unknown spending"):
        spent(0.5, ALPHA, "haybittle")


def test_one_look_is_the_fixed_one_sided_test():
    assert boundaries((1.0,), ALPHA, "pocock")[0] == pytest.approx(norm.ppf(1 - ALPHA), abs=1e-6)  # 1.96


def test_obrien_fleming_boundaries_of_five_equal_looks_are_the_published_ones():
    # Lan-DeMets O'Brien-Fleming type, one-sided 0.025, five equally spaced looks (Jennison & Turnbull 2000,
    # table 7.6; gsDesign's sfLDOF gives the same): 4.877, 3.357, 2.680, 2.290, 2.031
    found = boundaries((0.2, 0.4, 0.6, 0.8, 1.0), ALPHA, "obrien-fleming")
    assert found == pytest.approx((4.877, 3.357, 2.680, 2.290, 2.031), abs=2e-3)


@pytest.mark.parametrize("spending", ["pocock", "obrien-fleming"])
@pytest.mark.parametrize("fractions", [(0.5, 1.0), (0.25, 0.5, 1.0), (1 / 3, 2 / 3, 1.0)])
def test_each_look_spends_what_the_function_allows_by_scipy(spending, fractions):
    """P(no crossing before look k, crossing at k) under no change, integrated by scipy over the canonical joint
    normal (corr(Z_j, Z_k) = sqrt(t_j / t_k)), equals alpha(t_k) - alpha(t_{k-1})."""
    found = boundaries(fractions, ALPHA, spending)
    t = np.array(fractions)
    covariance = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    previous = 0.0
    for k in range(1, len(fractions) + 1):
        stay = multivariate_normal.cdf(np.array(found[:k]), mean=np.zeros(k), cov=covariance[:k, :k], abseps=1e-8,
                                       releps=1e-8, maxpts=2_000_000, rng=0) if k > 1 else norm.cdf(found[0])
        crossed = 1 - stay  # some look up to k crossed
        assert crossed - previous == pytest.approx(spent(fractions[k - 1], ALPHA, spending) - spent(
            fractions[k - 2], ALPHA, spending) if k > 1 else spent(fractions[0], ALPHA, spending), abs=2e-5)
        previous = crossed
    assert previous == pytest.approx(ALPHA, abs=3e-5)


def test_the_design_of_a_run_with_extra_repeats():
    plan = design(repeats=2, extra=4)
    assert plan.fractions == pytest.approx((2 / 6, 3 / 6, 4 / 6, 5 / 6, 1.0))
    assert plan.boundaries == boundaries(plan.fractions, ALPHA, "pocock")
    assert design(1, 4, family=5).alpha == pytest.approx(ALPHA / 5)  # Bonferroni across 5 critical benchmarks
    assert all(c > norm.ppf(1 - ALPHA) for c in plan.boundaries)  # every look pays for looking again
    assert plan.as_dict()["looks_planned"] == 5


def test_z_and_decision_by_hand():
    plan = design(1, 4)  # boundaries 2.438 ... 2.386
    delta = PairedDelta(n=100, mean=-0.01, sd=0.1, stderr=0.01)
    assert z_statistic(delta, 0.02) == pytest.approx(1.0)  # (-0.01 + 0.02) / 0.01
    assert z_statistic(delta, 0.02, higher_is_better=False) == pytest.approx(3.0)  # a rise of 0.01 is the drop
    assert decide(2.44, 0, plan) == GO and decide(2.43, 0, plan) == INCONCLUSIVE
    assert decide(-2.39, 4, plan) == NO_GO and decide(-2.38, 4, plan) == INCONCLUSIVE
    assert decide(2.0, 4, plan) == INCONCLUSIVE  # a fixed-sample GO (> 1.96) is not one after five looks
    assert z_statistic(PairedDelta(50, 0.0, 0.0, 0.0), 0.01) == math.inf
    assert z_statistic(PairedDelta(50, -0.01, 0.0, 0.0), 0.01) == 0.0
    record = {"repeats": 1, "max_extra_repeats": 4, "alpha": ALPHA, "spending": "pocock", "look": 4, "looks": 5,
              "extra_repeats": 4, "extra_requests": 80, "decided_at": 4, "stopped": "decided"}
    verdict, shown = sequential_verdict(PairedDelta(100, -0.05, 0.1, 0.01), 0.02, True, record)
    assert verdict == NO_GO and shown["z"] == pytest.approx(-3.0) and shown["extra_requests"] == 80
    assert shown["boundary"] == pytest.approx(plan.boundaries[4], abs=1e-6)


def test_extra_repeats_count_in_the_candidate_means_unpaired():
    base = [Item((s, 0), correct, float(correct), "h", None) for s, correct in ((1, True), (2, True), (3, False))]
    cand = [Item((1, 0), False, 0.0, "h", None), Item((2, 0), True, 1.0, "h", None),
            Item((3, 0), False, 0.0, "h", None),
            Item((1, 1), True, 1.0, "h", None), Item((1, 2), True, 1.0, "h", None), Item((2, 1), False, 0.0, "h", None),
            Item((9, 1), True, 1.0, "h", None)]  # sample 9 is not in the baseline: left out
    pairing = pair(base, cand, fold_unpaired=True)
    assert pairing.cand_mean == pytest.approx([2 / 3, 1 / 2, 0.0]) and pairing.base_mean == [1.0, 1.0, 0.0]
    assert (pairing.paired_items, pairing.extra_items, pairing.binary) == (3, 3, False)
    assert pair(base, cand).cand_mean == [0.0, 1.0, 0.0]  # without: the paired repeats only


# -- the simulation study -----------------------------------------------------------------------------------------

SAMPLES, BASE_REPEATS, EXTRA, MAX_DROP = 400, 16, 8, 0.02


def simulate(delta: float, seed: int, spending: str = "pocock", boundary=None) -> tuple[str, int]:
    """One candidate run against a baseline of 16 repeats: 400 samples whose chance of being right is p_i in
    [0.15, 0.85] for the baseline and p_i + delta for the candidate (so the true delta is exactly `delta`); the
    candidate's first repeat is look 0, then one more repeat of every sample per look, at most EXTRA. The
    verdict and the extra repeats it took."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.15, 0.85, SAMPLES)
    base = (rng.random((SAMPLES, BASE_REPEATS)) < p[:, None]).mean(axis=1)
    cand = rng.random((SAMPLES, 1 + EXTRA)) < (p + delta)[:, None]
    plan = design(1, EXTRA, spending)
    for look in range(EXTRA + 1):
        differences = cand[:, :look + 1].mean(axis=1) - base
        z = z_statistic(paired_delta(differences.tolist()), MAX_DROP)
        verdict = decide(z, look, plan) if boundary is None else (GO if z >= boundary else NO_GO if z <= -boundary
                                                                   else INCONCLUSIVE)
        if verdict != INCONCLUSIVE:
            return verdict, look
    return INCONCLUSIVE, EXTRA


@pytest.mark.parametrize("spending", ["pocock", "obrien-fleming"])
@pytest.mark.parametrize("delta, truth", [(-0.07, NO_GO), (0.02, GO), (0.05, GO)])
def test_two_hundred_seeded_simulations_decide_correctly(delta, truth, spending):
    outcomes = [simulate(delta, seed, spending) for seed in range(200)]
    correct = sum(verdict == truth for verdict, _ in outcomes)
    assert correct >= 190, f"delta {delta:+}: {correct} of 200 decided {truth}"  # at least 95 %
    assert not any(verdict not in (truth, INCONCLUSIVE) for verdict, _ in outcomes)
    extra = [looks for _, looks in outcomes]
    assert 0 < sum(extra) / len(extra) < EXTRA  # the run alone rarely decides; the budget is rarely spent


def test_on_the_line_the_error_stays_at_alpha_where_peeking_does_not():
    """True delta = -max_drop: a GO is an error; its rate stays near 2.5 % with the sequential boundaries, while
    testing each look at the fixed 1.96 (peeking) errs about twice as often."""
    sequential = sum(simulate(-MAX_DROP, seed)[0] == GO for seed in range(1000))
    peeking = sum(simulate(-MAX_DROP, seed, boundary=norm.ppf(1 - ALPHA))[0] == GO for seed in range(1000))
    assert sequential <= 38  # 2.5 % of 1000 is 25 (sd 5)
    assert peeking >= 45
