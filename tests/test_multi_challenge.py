"""Multi-Challenge: the judge's structured verdict, the scores (per axis, their mean) by hand, and the suite end
to end against a scripted model and judge."""

from __future__ import annotations

import json

import pytest

from helpers import copy_suites, results, samples
from pytest_nemoeval import DataError, VerdictError
from pytest_nemoeval.metrics import SampleOutcome
from pytest_nemoeval.tasks.multi_challenge import (JUDGE_PROMPT, VERDICT_FORMAT, check_row, judge_messages, metrics,
                                                   parse_verdict)


def test_judge_prompt_is_the_benchmarks_byte_for_byte():
    # ekwinox117/multi-challenge 5ccefcca src/evaluator.py JUDGE_PROMPT, .format(response, target_question)
    assert judge_messages("RESPONSE", "CRITERION?") == [{"role": "user", "content": (
        "You are tasked with evaluating a model response to see if it meets a specific criteria.\n"
        "The criteria will always be YES/NO evaluation.\n\nThe model response is as follows:\n<MODEL_RESPONSE>\n"
        "RESPONSE\n</MODEL_RESPONSE>\n\nThe criteria that the model response must meet is as follows. Be VERY "
        "STRICT!:\n<CRITERIA>\nCRITERION?\n</CRITERIA>\n\nPrint your reasoning followed by your verdict, either "
        '"YES" or "NO".')}]
    assert JUDGE_PROMPT.count("{}") == 2
    schema = VERDICT_FORMAT["json_schema"]["schema"]
    assert schema["required"] == ["reasoning", "verdict"] and schema["properties"]["verdict"]["enum"] == ["YES", "NO"]


def test_structured_verdict():
    assert parse_verdict('{"reasoning": "two sentences", "verdict": "YES"}') == {"reasoning": "two sentences",
                                                                                "verdict": "YES"}
    assert parse_verdict('<think>hm</think>{"reasoning": "", "verdict": "NO"}')["verdict"] == "NO"


@pytest.mark.parametrize("reply", ["YES", '{"reasoning": "x", "verdict": "yes"}', '{"verdict": "MAYBE"}', "", None,
                                   '{"reasoning": "cut off'])
def test_a_reply_that_is_no_yes_no_verdict_is_an_error(reply):
    with pytest.raises(VerdictError, match="not a JudgeResponse with verdict YES or NO"):
        parse_verdict(reply)


def test_bad_rows_are_data_errors():
    row = {"QUESTION_ID": "q", "AXIS": "A", "TARGET_QUESTION": "?", "PASS_CRITERIA": "YES",
           "CONVERSATION": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    with pytest.raises(DataError, match="must end with a user message"):
        check_row(row, {})
    with pytest.raises(DataError, match="PASS_CRITERIA 'maybe' is not YES or NO"):
        check_row({**row, "CONVERSATION": row["CONVERSATION"][:1], "PASS_CRITERIA": "maybe"}, {})


def outcome(index, axis, passed, parsed=None):
    parsed = parsed or [True] * len(passed)
    return SampleOutcome(index, passed, [None] * len(passed),
                         [{"axis": axis, "parsed": flag} for flag in parsed])


def test_scores_by_hand():
    # axis A: 2 conversations, 2 repeats: 2/2 and 0/2 -> 0.5; axis B: 1 conversation 1/2 -> 0.5, one repeat's
    # verdict unparseable (a failure); axis C: 2/2, 2/2, 1/2 -> 5/6
    outcomes = [outcome(0, "A", [True, True]), outcome(1, "A", [False, False]),
                outcome(2, "B", [True, False], parsed=[True, False]),
                outcome(3, "C", [True, True]), outcome(4, "C", [True, True]), outcome(5, "C", [True, False])]
    scores = metrics(outcomes, 2)
    assert scores["axis_A"]["value"] == 0.5 and scores["axis_B"]["value"] == 0.5
    assert scores["axis_C"]["value"] == pytest.approx(5 / 6)
    assert scores["overall"]["value"] == pytest.approx((0.5 + 0.5 + 5 / 6) / 3)  # not the pooled 9/12
    # any attempt: A 1/2, B 1/1, C 3/3
    assert scores["overall_any_attempt"]["value"] == pytest.approx((0.5 + 1 + 1) / 3)
    assert scores["judge_unparseable"] == {"value": 1 / 12, "count": 1, "of": 12}
    # the interval: the axes' variances added (A's per-sample rates 1, 0: variance of the mean 1/4; B one
    # sample: 0; C's 1, 1, 1/2: sample variance 1/12, of the mean 1/36), the mean of three divides by 3
    assert scores["axis_A"]["stderr"] == pytest.approx(0.5)
    assert scores["overall"]["stderr"] == pytest.approx((1 / 4 + 0 + 1 / 36) ** 0.5 / 3)


def test_an_errored_item_fails_its_axis():
    errored = SampleOutcome(0, [True], [None], [{"axis": "A"}], ["generation failed"])
    scores = metrics([errored, outcome(1, "B", [True])], 1)
    assert scores["axis_A"]["value"] == 0.0 and scores["overall"]["value"] == 0.5


ROWS = [  # 3 conversations on 2 axes; the judge's verdict is scripted by the reply, the reply by the question
    {"QUESTION_ID": f"q{i}", "AXIS": axis, "TARGET_QUESTION": f"CRITERION-{i}?", "PASS_CRITERIA": criteria,
     "CONVERSATION": [{"role": "user", "content": "first"}, {"role": "assistant", "content": "ok"},
                      {"role": "user", "content": f"QUESTION-{i}"}]}
    for i, (axis, criteria) in enumerate([("INFERENCE_MEMORY", "YES"), ("INFERENCE_MEMORY", "NO"),
                                          ("SELF_COHERENCE", "YES")])]
JUDGE = {0: '{"reasoning": "meets it", "verdict": "YES"}',  # passes (YES == YES)
         1: '{"reasoning": "meets it", "verdict": "YES"}',  # fails (criteria NO)
         2: 'The response is fine. Verdict: YES'}           # unparseable: fails, counted


def test_suite_end_to_end_with_a_scripted_judge(pytester, mock_server, monkeypatch):
    monkeypatch.setenv("JUDGE_API_KEY", "judge-secret")
    copy_suites(pytester, "multi_challenge")
    (pytester.path / "data").mkdir()
    (pytester.path / "data" / "multi_challenge.jsonl").write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    (pytester.path / "model.json").write_text(json.dumps([[f"QUESTION-{i}", f"ANSWER-{i}"] for i in JUDGE]))
    (pytester.path / "judge.json").write_text(json.dumps([[f"ANSWER-{i}\n", reply] for i, reply in JUDGE.items()]))
    model = mock_server("--answers", str(pytester.path / "model.json"))
    judge = mock_server("--answers", str(pytester.path / "judge.json"), "--models", "gpt-4o-2024-08-06")
    result = pytester.runpytest_subprocess("suites/test_multi_challenge.py", "--endpoint", model.url,
                                           "--judge-endpoint", judge.url, "--data-dir", "data", "--repeats", "2")
    assert result.ret == 0, result.stdout.str()
    rows = samples(pytester, "multi_challenge")
    assert sorted((row["sample_id"], row["verdict"]) for row in rows) == [
        ("q0", "correct"), ("q0", "correct"), ("q1", "incorrect"), ("q1", "incorrect"),
        ("q2", "incorrect"), ("q2", "incorrect")]
    entry = results(pytester)["benchmarks"]["multi_challenge"]
    scores = {name: metric["value"] for name, metric in entry["metrics"].items()}
    assert scores["axis_INFERENCE_MEMORY"] == 0.5 and scores["axis_SELF_COHERENCE"] == 0.0
    assert scores["overall"] == 0.25 and entry["primary_metric"] == "overall"
    assert scores["judge_unparseable"] == pytest.approx(2 / 6)
    assert set(entry["categories"]["by"]) == {"INFERENCE_MEMORY", "SELF_COHERENCE"}
    assert judge.stats()["chat_requests"] == 6
