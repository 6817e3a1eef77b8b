"""Math answers: the last balanced \\boxed{}, judged equal with NeMo Skills' math_equal on math-verify."""

from __future__ import annotations

import sys

import pytest

from pytest_nemoeval import extract_choice_letter, extract_math_answer, math_equal, split_reasoning


@pytest.mark.parametrize("text, answer", [
    ("so \\boxed{16}.", "16"),
    ("first \\boxed{12}, then corrected: \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),  # several boxes: last wins
    ("\\boxed{\\frac{\\sqrt{3}}{2}}", "\\frac{\\sqrt{3}}{2}"),  # nested braces
    ("\\boxed{16} and at the end \\boxed{\\frac{1}{2}", None),  # the last box never closes
    ("The answer is 16.", None),
])
def test_extract_math_answer(text, answer):
    assert extract_math_answer(text) == answer


@pytest.mark.parametrize("expected, predicted, equal", [
    ("16", "016", True),  # leading zeros: integers compare as numbers
    (16, "16", True),
    ("16", "16.0", True),
    ("70", "070.", True),
    ("16", "17", False),
    ("\\frac{1}{2}", "0.5", True),  # LaTeX fraction vs decimal
    ("0.5", "\\dfrac{1}{2}", True),
    ("\\frac{1}{3}", "0.33", False),
    ("\\frac{1}{2}", "\\frac{1}{3}", False),
    ("2\\sqrt{3}", "\\sqrt{12}", True),
    ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", True),
    ("x^2+1", "1+x^2", True),
    ("10", "10\\%", True),
    ("B", "\\text{(B)}", True),
    ("B", "C", False),
    ("(1,2)", "(1, 2)", True),
    ("16", None, False),  # no answer
])
def test_math_equal(expected, predicted, equal):
    assert math_equal(expected, predicted) is equal


@pytest.mark.parametrize("text, letter", [
    ("Answer: \\boxed{\\text{(B)}}", "B"),
    ("\\boxed{B}", "B"),
    ("\\boxed{(B)}", "B"),
    ("\\boxed{A} first, \\boxed{C} last", "C"),
    ("no box at all\nAnswer: B", "B"),  # "Answer: B" fallback
    ("reasoning...\nThe final answer is (D)", "D"),  # the reference's regex fallback
    ("\\boxed{B", None),  # unbalanced
])
def test_choice_letters_of_reasoning_suites(text, letter):
    assert extract_choice_letter(text) == letter


def test_answer_only_inside_the_think_trace_is_no_answer():
    text, trace, cut_off = split_reasoning("<think>It is \\boxed{16}. Answer: B")
    assert cut_off and "16" in trace
    assert extract_math_answer(text) is None and extract_choice_letter(text) is None
    text, _, _ = split_reasoning("<think>maybe \\boxed{15}</think>So \\boxed{16}")
    assert extract_math_answer(text) == "16"


def test_missing_math_verify_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "math_verify", None)
    with pytest.raises(ImportError, match=r"math-verify.*pip install 'pytest-nemoeval\[math\]'"):
        math_equal("\\frac{1}{2}", "0.5")
    assert math_equal("16", "016")  # integers need no grader package
