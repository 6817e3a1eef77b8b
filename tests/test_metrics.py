"""Metrics against hand-computed values."""

from __future__ import annotations

import itertools
import math

import pytest

from pytest_nemoeval.metrics import (SampleOutcome, ks_for, majority_correct, pass_at_k, pytest_nemoeval_metrics,
                                     summarize)


def test_summarize_uses_sample_standard_error():
    stats = summarize([1.0, 0.0, 1.0, 1.0])
    assert stats["value"] == 0.75
    assert stats["stderr"] == pytest.approx(math.sqrt(0.25 / 4))  # sample variance 0.25
    assert stats["ci95"] == pytest.approx([0.75 - 1.959964 * 0.25, 1.0], abs=1e-6)  # clipped at 1


def test_summarize_of_one_or_no_value():
    assert summarize([0.5]) == {"value": 0.5, "stderr": 0.0, "ci95": [0.5, 0.5]}
    assert summarize([])["value"] == 0.0


@pytest.mark.parametrize("n, c, k", [(5, 2, 1), (5, 2, 2), (8, 3, 4), (4, 0, 2), (4, 4, 3), (6, 5, 2)])
def test_pass_at_k_equals_brute_force_over_all_k_subsets(n, c, k):
    draws = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    brute = sum(any(draws[i] for i in subset) for subset in subsets) / len(subsets)
    assert pass_at_k(n, c, k) == pytest.approx(brute)


def test_majority_vote_ties_go_to_the_first_answer_and_none_is_wrong():
    assert majority_correct(SampleOutcome(0, [False, True, True], ["A", "B", "B"])) == 1.0
    assert majority_correct(SampleOutcome(0, [True, False, False, True], ["A", "B", "B", "A"])) == 1.0
    assert majority_correct(SampleOutcome(0, [False, False], [None, None])) == 0.0
    assert majority_correct(SampleOutcome(0, [False, False, True], [None, None, "C"])) == 1.0


def test_ks_are_powers_of_two_up_to_the_repeat_count():
    assert ks_for(1) == []
    assert ks_for(8) == [2, 4, 8]
    assert ks_for(10) == [2, 4, 8, 10]


def test_builtin_metrics_cluster_repeats_by_sample():
    outcomes = [SampleOutcome(0, [True, True, False, False], ["A", "A", "B", None]),
                SampleOutcome(1, [False, False, False, False], ["C", "C", "C", "C"])]
    metrics = pytest_nemoeval_metrics("x", outcomes, 4)
    assert metrics["pass@1"]["value"] == pytest.approx(0.25)
    assert metrics["pass@1"]["stderr"] == pytest.approx(0.25)  # per-sample means 0.5 and 0: sd .3536 / sqrt 2
    assert metrics["pass@2"]["value"] == pytest.approx((1 - 1 / 6) / 2)
    assert metrics["pass@4"]["value"] == pytest.approx(0.5)
    assert metrics["majority@4"]["value"] == pytest.approx(0.5)
    assert metrics["no_answer"]["value"] == pytest.approx(0.125)
    assert metrics["accuracy"] == metrics["pass@1"]
