"""What the competition-math suites (AIME 2025, HMMT February 2025) share: NeMo Skills' `generic/math`
prompt (the published `ns_aime25` task's) and the scorer: the last \\boxed{} (balanced braces), judged with
NeMo Skills' math_equal on math-verify (integers compare as numbers, "016" == 16)."""

from __future__ import annotations

from typing import Any

from pytest_nemoeval.extraction import extract_math_answer, math_equal

INSTRUCTION = "Solve the following math problem. Make sure to put the answer (and only answer) inside \\boxed{}.\n\n"


def prompt(row: dict[str, Any]) -> str:
    return INSTRUCTION + row["problem"]


def score(sample: dict[str, Any], response: Any, verdict: Any) -> None:
    answer = extract_math_answer(response.text)
    verdict(math_equal(sample["answer"], answer), answer=answer, expected=str(sample["answer"]))
