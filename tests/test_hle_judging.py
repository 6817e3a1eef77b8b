"""HLE: the judge's structured verdict and the official calibration error."""

from __future__ import annotations

import math

import pytest

from pytest_nemoeval import VerdictError
from pytest_nemoeval.tasks.hle import parse_judge_verdict
from pytest_nemoeval.metrics import SampleOutcome
from pytest_nemoeval.tasks.hle import calibration
from pytest_nemoeval.tasks.hle.calibration import calibration_error


def test_json_verdict_as_asked_for():
    verdict = parse_judge_verdict('{"extracted_final_answer": "25", "reasoning": "same number", '
                                  '"correct": "yes", "confidence": 85}')
    assert verdict == {"extracted_final_answer": "25", "reasoning": "same number", "correct": True,
                       "confidence": 85.0}


def test_labelled_lines_of_the_official_format_and_a_reasoning_judge():
    reply = ("<think>compare 1937 and 1936</think>**extracted_final_answer:** 1936\n\nreasoning: one year off\n\n"
             "**correct:** no\n\nconfidence: 70%")
    assert parse_judge_verdict(reply) == {"extracted_final_answer": "1936", "reasoning": "one year off",
                                          "correct": False, "confidence": 70.0}
    nemo_skills_style = "extracted_final_answer: None\nReasoning: nothing to extract\nJudgement: no\nConfidence: 100"
    verdict = parse_judge_verdict(nemo_skills_style)
    assert verdict["extracted_final_answer"] is None and verdict["correct"] is False


@pytest.mark.parametrize("reply", ["I think the response is right.", "", None, '{"correct": "maybe"}',
                                   '{"extracted_final_answer": "4", "reasoning": "cut off by max_tok'])
def test_a_reply_without_a_yes_no_verdict_is_an_error(reply):
    with pytest.raises(VerdictError, match="no 'correct: yes/no' verdict"):
        parse_judge_verdict(reply)


def test_calibration_error_bins_of_100_without_the_last_bin_like_the_official_scorer():
    # 100 verdicts at 20 % confidence, all right (gap 0.8), then 150 at 90 %: bins [0, 100) and [100, 250);
    # the official loop leaves out the last bin, so only the first counts: sqrt(100/250 * 0.8^2)
    confidence = [0.2] * 100 + [0.9] * 150
    correct = [True] * 100 + [True, False] * 75
    assert calibration_error(confidence, correct) == pytest.approx(math.sqrt(0.4 * 0.64))
    assert calibration_error([0.9] * 150, [False] * 150) == 0.0  # one bin, left out as above


def test_calibration_error_of_fewer_than_100_verdicts_is_one_bin():
    assert calibration_error([0.8, 0.8], [True, False]) == pytest.approx(0.3)
    assert calibration_error([], []) == 0.0


def test_an_errored_item_is_wrong_at_full_confidence_in_the_calibration_error():
    outcomes = [SampleOutcome(0, [True], ["25"], [{"confidence": 80, "correct": True}]),
                SampleOutcome(1, [False], [None], errors=["the judge's reply has no 'correct: yes/no' verdict"])]
    metric = calibration.metrics(outcomes, 1)["calibration_error"]
    # one bin of confidences 0.8 and 1.0 (mean 0.9) against 1 right of 2 (0.5); without the error: |0.8 - 1| = 0.2
    assert metric == {"value": pytest.approx(0.4), "samples": 2}
    assert calibration.metrics([], 1) == {}
