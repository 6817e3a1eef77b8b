"""AA-Omniscience as NeMo Skills' `ns_omniscience` runs it (NVIDIA-NeMo/Skills, read at 4d058c95 and 1a743206):

- prompt `eval/aai/omni`: a system message naming the question's domain and topic, the question as the user's;
- judge `judge/aa-omni-judge` (judge_prompt.txt, verbatim): the judge answers one letter, A correct, B incorrect,
  C partial answer, D not attempted; read as `OmniMetrics._get_score_dict` reads it (the letter alone; a reply
  that is no letter falls in no grade), after stripping whitespace and any reasoning trace;
- metrics (`evaluation/metrics/omni_metrics.py`): accuracy (the share of A, the built-in `accuracy`), the
  omniscience index (A - B) / (A + B + C + D) and the hallucination rate B / (B + C + D), here each with its
  interval (clustered by sample); an item that errored is graded B, as `get_incorrect_sample` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_nemoeval.extraction import split_reasoning
from pytest_nemoeval.metrics import SampleOutcome, ratio_summary

SYSTEM = ("You are answering questions about {domain}, and in particular {topic}. You will be given a question, "
          "answer with JUST the answer (no explanation). If you do not know the answer, or you need more context or "
          "tools to answer the question, be clear about this - it is better that you say this than get the wrong "
          "answer.")
JUDGE_PROMPT = (Path(__file__).parent / "judge_prompt.txt").read_text()  # .format(question=, expected_answer=, generation=)
GRADES = {"A": "correct", "B": "incorrect", "C": "partial", "D": "not_attempted"}
JUDGE_OPTIONS = {"temperature": 0.0, "max_new_tokens": 4096}  # greedy, as NeMo Skills' judge runs


def prompt(row: dict[str, Any]) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM.format(domain=row["domain"], topic=row["topic"])},
            {"role": "user", "content": row["question"]}]


def judge_messages(question: str, expected: str, generation: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": JUDGE_PROMPT.format(question=question, expected_answer=expected,
                                                             generation=generation)}]


def parse_grade(content: str | None) -> str | None:
    """The judge's letter A-D, or None when the reply is not one letter."""
    text, _, _ = split_reasoning(content)
    letter = text.strip().upper()
    return letter if letter in GRADES else None


def metrics(outcomes: list[SampleOutcome], repeats: int) -> dict[str, Any]:
    """`omniscience_index` (A - B) / graded and `hallucination_rate` B / (B + C + D), counted over every
    repeat, each with its interval; `judge_unparseable`: the replies that were no letter."""
    counts = []
    for outcome in outcomes:
        grades = ["B" if outcome.errored(repeat) else (inputs or {}).get("grade")
                  for repeat, inputs in enumerate(outcome.inputs)]
        counts.append({letter: grades.count(letter) for letter in (*GRADES, None)})
    if not counts:
        return {}
    index = ratio_summary([c["A"] - c["B"] for c in counts], [c["A"] + c["B"] + c["C"] + c["D"] for c in counts],
                          low=-1.0)
    hallucination = ratio_summary([c["B"] for c in counts], [c["B"] + c["C"] + c["D"] for c in counts])
    unparseable = sum(c[None] for c in counts)
    return {"omniscience_index": index, "hallucination_rate": hallucination,
            "judge_unparseable": {"value": unparseable / sum(sum(c.values()) for c in counts), "count": unparseable}}
