"""HLE: NeMo Skills' judgement (the default), the official judge's structured verdict, the calibration error."""

from __future__ import annotations

import math

import pytest

from pytest_nemoeval import VerdictError
from pytest_nemoeval.metrics import SampleOutcome
from pytest_nemoeval.tasks.hle import JUDGE_PROMPT, calibration, is_correct_judgement, parse_judge_verdict, parse_judgement
from pytest_nemoeval.tasks.hle.calibration import calibration_error


def test_json_verdict_as_asked_for():
    verdict = parse_judge_verdict('{"extracted_final_answer": "25", "reasoning": "same number", '
                                  '"correct": "yes", "confidence": 85}')
    assert verdict == {"extracted_final_answer": "25", "reasoning": "same number", "correct": True,
                       "confidence": 85.0, "parsed": True}


def test_labelled_lines_of_the_official_format_and_a_reasoning_judge():
    reply = ("<think>compare 1937 and 1936</think>**extracted_final_answer:** 1936\n\nreasoning: one year off\n\n"
             "**correct:** no\n\nconfidence: 70%")
    assert parse_judge_verdict(reply) == {"extracted_final_answer": "1936", "reasoning": "one year off",
                                          "correct": False, "confidence": 70.0, "parsed": True}
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


# NVIDIA/NeMo-Skills 0b012df8 nemo_skills/evaluation/metrics/utils.py, the oracle
def reference_is_correct_judgement(judgement, return_none=False):
    if "Judgement:" in judgement:
        verdict = judgement.split("Judgement:")[-1].strip()
        if verdict.lower().startswith("yes"):
            return True
        elif verdict.lower().startswith("no"):
            return False

    if return_none:
        return None
    else:
        return False  # improper judgement format, so have to judge as false


JUDGEMENTS = [
    "extracted_final_answer: 25\nReasoning: same\nJudgement: yes\nConfidence: 80",
    "Judgement: No, the answer differs.",
    "Judgement: YES",
    "**Judgement**: yes",  # gpt-4o's bold label: not "Judgement:", so no verdict in this version
    "Judgement: no ... on reflection Judgement: yes",  # the last one counts
    "Judgement: maybe",
    "The answer is right.",
    "",
]


@pytest.mark.parametrize("judgement", JUDGEMENTS)
def test_nemo_skills_judgement_as_the_reference_reads_it(judgement):
    assert is_correct_judgement(judgement) == reference_is_correct_judgement(judgement, return_none=True)
    assert parse_judgement(judgement)["correct"] is reference_is_correct_judgement(judgement)
    assert parse_judgement(judgement)["parsed"] is (reference_is_correct_judgement(judgement, True) is not None)


def test_nemo_skills_judgement_fields():
    judged = parse_judgement("<think>x</think>extracted_final_answer: 1936\nReasoning: off by one\n"
                             "Judgement: no\nConfidence: 70%")
    assert judged == {"correct": False, "parsed": True, "extracted_final_answer": "1936", "confidence": 70.0}
    assert parse_judgement("extracted_final_answer: None\nJudgement: no")["extracted_final_answer"] is None


def test_judge_prompt_is_judge_hle_byte_for_byte():
    """nemo_skills/prompt/config/judge/hle.yaml (0b012df8), `user` as YAML loads it: its first and last lines,
    the placeholders, no trailing newline, and the literal |\\%| of the file."""
    assert JUDGE_PROMPT.startswith("Judge whether the following [response] to [question] is correct or not based "
                                   "on the precise and unambiguous [correct_answer] below.\n\n[question]: {problem}\n\n"
                                   "[response]: {generation}\n\n")
    assert JUDGE_PROMPT.endswith("Confidence: The extracted confidence score between 0|\\%| and 100|\\%| from "
                                 "[response]. Put 100 if there is no confidence score available.")
    assert "[correct_answer]: {expected_answer}\n\n" in JUDGE_PROMPT and JUDGE_PROMPT.count("\n") == 16


def test_an_errored_item_is_wrong_at_full_confidence_in_the_calibration_error():
    outcomes = [SampleOutcome(0, [True], ["25"], [{"confidence": 80, "correct": True}]),
                SampleOutcome(1, [False], [None], errors=["the judge's reply has no 'correct: yes/no' verdict"])]
    metric = calibration.metrics(outcomes, 1)["calibration_error"]
    # one bin of confidences 0.8 and 1.0 (mean 0.9) against 1 right of 2 (0.5); without the error: |0.8 - 1| = 0.2
    assert metric == {"value": pytest.approx(0.4), "samples": 2}
    assert calibration.metrics([], 1) == {}
