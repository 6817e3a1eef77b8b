"""Answer extraction and reasoning traces."""

from __future__ import annotations

import pytest

from pytest_nemoeval import extract_choice_letter, last_boxed, last_code_block, split_reasoning


@pytest.mark.parametrize("text, letter", [
    ("so the answer is \\boxed{C}", "C"),
    ("\\boxed{A} at first, but finally \\boxed{D}", "D"),  # last box wins
    ("Answer: \\boxed{\\text{(B)}}", "B"),
    ("\\boxed{(B)}", "B"),
    ("\\boxed{B) Paris}", "B"),
    ("I think it's B.\n**Answer:** E", "E"),  # no box: "Answer: X" fallback
    ("Answer: B\nAnswer: C", "C"),
    ("answer: g", "G"),  # the reference upper-cases the (?i) match
    ("The answer is Paris.", None),
    ("Answer: \\boxed{42} ... Answer: F", "F"),  # a box without a letter falls back
    ("\\boxed{B", None),  # unbalanced box, nothing else
])
def test_extract_choice_letter(text, letter):
    assert extract_choice_letter(text) == letter


def test_last_boxed_balances_nested_braces():
    assert last_boxed("x \\boxed{\\frac{1}{2}} y") == "\\frac{1}{2}"
    assert last_boxed("\\fbox{7}") is None  # the reference reads \\boxed only
    assert last_boxed("\\boxed {7}") is None and last_boxed("\\boxed{ 7 }") == " 7 "
    assert last_boxed("no box") is None


def test_reasoning_trace_is_removed_before_scoring():
    answer, trace, cut = split_reasoning("<think>maybe \\boxed{A}</think>Final: \\boxed{B}")
    assert (answer, trace, cut) == ("Final: \\boxed{B}", "maybe \\boxed{A}", False)
    assert extract_choice_letter(answer) == "B"


def test_response_cut_off_inside_the_trace_has_no_answer():
    answer, trace, cut = split_reasoning("<think>long thoughts, \\boxed{A} perhaps")
    assert answer == "" and cut and "perhaps" in trace
    assert extract_choice_letter(answer) is None


def test_separate_reasoning_content_is_kept_but_not_scored():
    answer, trace, cut = split_reasoning("Answer: \\boxed{C}", "thinking about A")
    assert (answer, trace, cut) == ("Answer: \\boxed{C}", "thinking about A", False)
    assert split_reasoning(None, "ran out of tokens while thinking") == ("", "ran out of tokens while thinking", True)


def test_code_is_the_last_fenced_block():
    text = "First try:\n```python\nx = 1\n```\nBetter:\n```python\nx = 2\nprint(x)\n```\nThat's it."
    assert last_code_block(text) == "x = 2\nprint(x)"
    assert last_code_block("```\nplain fence\n```") == "plain fence"
    assert last_code_block("```python\nnever closed") is None
    assert last_code_block("no code at all") is None
