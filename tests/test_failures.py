"""Failure classes of errored items, from the reasons the engine, the judges and the scorers give."""

from __future__ import annotations

import pytest

from pytest_nemoeval.failures import CLASSES, failure_class, summary


@pytest.mark.parametrize("reason, expected", [
    ("no response within the request timeout (30 s) (gave up after 3 attempts)", "timeout"),
    ("HTTP 429: slow down (gave up after 3 attempts)", "rate limit"),
    ("HTTP 503: upstream connect error or disconnect/reset before headers (gave up after 3 attempts)", "server error"),
    ("cannot connect (Connection refused) (gave up after 4 attempts)", "connection"),
    ("server closed the connection (gave up after 4 attempts)", "connection"),
    ("endpoint http://h:8000/v1 is down: 5 connection failures in a row over 31 s (last: ...); stopped sending",
     "connection"),
    ("invalid response (not an OpenAI chat completion): b'<html>' (gave up after 3 attempts)", "format error"),
    ("VerdictError: the judge's reply has no 'correct: yes/no' verdict: 'maybe'", "format error"),
    ("the judge's reply was empty", "empty reply"),
    ("the model refused: finish_reason content_filter", "refusal"),
    ("HTTP 400 from http://h/v1/chat/completions: maximum context length is 8192 tokens", "rejected request"),
    ("ZeroDivisionError: division by zero", "other"),
    (None, "other"),
])
def test_failure_class(reason, expected):
    assert failure_class(reason) == expected


def test_summary_lists_classes_in_a_fixed_order():
    assert summary({"other": 1, "timeout": 2, "rate limit": 1}) == "timeout 2, rate limit 1, other 1"
    assert summary({}) == "" and CLASSES[-1] == "other"
