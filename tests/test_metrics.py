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
    assert summarize([0.5]) == {"value": 0.5, "stderr": 0.0, "ci95": [0.5, 0.5], "samples": 1}
    assert summarize([]) == {"value": 0.0, "stderr": 0.0, "ci95": [0.0, 0.0], "samples": 0}


@pytest.mark.parametrize("n, c, k", [(5, 2, 1), (5, 2, 2), (8, 3, 4), (4, 0, 2), (4, 4, 3), (6, 5, 2)])
def test_pass_at_k_equals_brute_force_over_all_k_subsets(n, c, k):
    draws = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    brute = sum(any(draws[i] for i in subset) for subset in subsets) / len(subsets)
    assert pass_at_k(n, c, k) == pytest.approx(brute)


def majority(answers, correct, errors=()):
    return majority_correct(SampleOutcome(0, list(correct), list(answers), errors=list(errors)))


def test_majority_vote_ties_score_the_mean_of_the_tied_answers_like_nemo_skills():
    assert majority(["A", "B"], [True, False]) == 0.5  # A and B tie: mean of 1 and 0
    assert majority(["A", "A", "B", "B", "C"], [True, True, False, False, False]) == 0.5  # A and B tie, C is out
    assert majority(["A", "B", "B"], [False, True, True]) == 1.0
    # votes are (answer, correct) pairs: an answer judged both ways splits its votes, and three pairs tie
    assert majority(["A", "A", "B"], [True, False, False]) == pytest.approx(1 / 3)


def test_majority_vote_without_answers_and_with_errors():
    assert majority([None, None], [False, False]) == 0.0  # nothing to vote on
    assert majority([None, None, "C"], [False, False, True]) == 1.0  # no answer does not vote
    # the two errored repeats neither answer nor vote, whatever they would have said
    assert majority(["A", "B", "B"], [True, False, False], [None, "HTTP 500", "HTTP 500"]) == 1.0
    assert majority(["A", "A"], [True, True], ["HTTP 500", "timeout"]) == 0.0


def test_majority_vote_on_answers_that_cannot_be_hashed():
    calls, other = [{"f": {"x": 1}}], [{"g": {}}]  # BFCL's decoded tool calls
    assert majority([calls, [{"f": {"x": 1}}], other], [True, True, False]) == 1.0


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


def test_builtin_metrics_count_an_errored_repeat_as_wrong_and_unanswered():
    outcomes = [SampleOutcome(0, [True, True], ["A", "A"], errors=[None, "HTTP 500"]),  # scored right, errored
                SampleOutcome(1, [False, False], [None, None], errors=["HTTP 500", "timeout"]),  # both errored
                SampleOutcome(2, [False, False], ["B", None])]
    assert (outcomes[0].correct, outcomes[0].answers) == ([True, False], ["A", None])
    metrics = pytest_nemoeval_metrics("x", outcomes, 2)
    # per-sample pass@1: 1/2, 0, 0 over all 3 samples (the errors kept out, it would be (1 + 0) / 2 = 0.5)
    assert metrics["pass@1"]["value"] == pytest.approx(1 / 6)
    assert metrics["accuracy"] == metrics["pass@1"]
    # pass@2: sample 0 has 1 right of 2 (1 - C(1,2)/C(2,2) = 1), the others none
    assert metrics["pass@2"]["value"] == pytest.approx(1 / 3)
    # majority@2: sample 0's only vote is A (right), sample 1 has no vote, sample 2's only vote is B (wrong)
    assert metrics["majority@2"]["value"] == pytest.approx(1 / 3)
    # no answer: 1/2, 2/2, 1/2
    assert metrics["no_answer"]["value"] == pytest.approx(2 / 3)
    # 3 of 6 items errored; per sample 1, 2, 0 of 2: residuals (1-1)^2 + (2-1)^2 + (0-1)^2 = 2,
    # stderr sqrt(3/2 * 2) / 6
    assert metrics["error_rate"]["value"] == pytest.approx(0.5)
    assert metrics["error_rate"]["stderr"] == pytest.approx(math.sqrt(3) / 6)
    assert {name: metric["samples"] for name, metric in metrics.items()} == {
        "accuracy": 3, "pass@1": 3, "pass@2": 3, "majority@2": 3, "no_answer": 3, "error_rate": 3}


def test_each_metric_says_how_many_samples_it_covers():
    outcomes = [SampleOutcome(0, [True, False, False, True], ["A"] * 4),  # -k left sample 1 with two repeats
                SampleOutcome(1, [False, False], ["B", "B"])]
    metrics = pytest_nemoeval_metrics("x", outcomes, 4)
    assert (metrics["pass@2"]["samples"], metrics["pass@4"]["samples"]) == (2, 1)
    assert metrics["pass@4"]["value"] == 1.0  # sample 0 alone
    assert metrics["error_rate"] == {"value": 0.0, "stderr": 0.0, "ci95": [0.0, 0.0], "samples": 2}
