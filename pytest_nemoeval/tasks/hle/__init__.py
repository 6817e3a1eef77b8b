"""HLE's judges. The published `ns_hle` task judges as NeMo Skills does (the default here); the official HLE
judge, with its structured verdict, is the option `benchmarks.hle.data.judge: official`.

- NeMo Skills (NVIDIA/NeMo-Skills 0b012df8, the code of the published run): prompt `judge/hle`
  (judge_prompt.txt), free text with `Judgement: yes/no`, parsed by `is_correct_judgement`
  (evaluation/metrics/utils.py): the text after the last "Judgement:" starts with yes or no; anything else
  is incorrect (and counted here as unparseable). Greedy: NeMo Skills' judge runs at temperature 0.
- Official (centerforaisafety/hle, hle_eval/run_judge_results.py: JUDGE_PROMPT, ExtractedAnswer): prompt
  official_judge_prompt.txt, a JSON verdict (response_format) parsed by `parse_judge_verdict`; a reply
  without a yes/no verdict is an error.
The calibration error of the stated confidence is in calibration.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pytest_nemoeval.errors import VerdictError
from pytest_nemoeval.extraction import split_reasoning

HERE = Path(__file__).parent
JUDGES = ("nemo_skills", "official")
JUDGE_PROMPT = (HERE / "judge_prompt.txt").read_text()  # .format(problem=, generation=, expected_answer=)
OFFICIAL_JUDGE_PROMPT = (HERE / "official_judge_prompt.txt").read_text()  # .format(question=, response=, ...)
# the official ExtractedAnswer model as a JSON schema (OpenAI structured outputs, vLLM and llama.cpp accept it)
VERDICT_FORMAT = {"type": "json_schema", "json_schema": {"name": "ExtractedAnswer", "strict": True, "schema": {
    "type": "object", "additionalProperties": False,
    "required": ["extracted_final_answer", "reasoning", "correct", "confidence"],
    "properties": {"extracted_final_answer": {"type": "string"}, "reasoning": {"type": "string"},
                   "correct": {"type": "string", "enum": ["yes", "no"]}, "confidence": {"type": "integer"}}}}}
JUDGE_MAX_TOKENS = 4096  # the official max_completion_tokens

# labelled lines of the official HLE judge format ("correct: yes"); "judgement" is NeMo Skills' label
_VERDICT_LINE = re.compile(r"(?im)^[\s*_#]*(extracted_final_answer|reasoning|correct|judgement|confidence)"
                           r"[\s*_]*:[\s*_]*(.*?)[\s*_]*$")
_CONFIDENCE = re.compile(r"(?im)^[\s*_#]*confidence[\s*_]*:[\s*_]*(\d+(?:\.\d+)?)")
_EXTRACTED = re.compile(r"(?im)^[\s*_#]*extracted_final_answer[\s*_]*:[\s*_]*(.*?)[\s*_]*$")


def is_correct_judgement(judgement: str) -> bool | None:
    """NeMo Skills' is_correct_judgement (0b012df8): True/False from the text after the last "Judgement:",
    None where it has no verdict (which NeMo Skills grades False)."""
    if "Judgement:" in judgement:
        verdict = judgement.split("Judgement:")[-1].strip().lower()
        if verdict.startswith("yes"):
            return True
        if verdict.startswith("no"):
            return False
    return None


def parse_judgement(content: str | None) -> dict[str, Any]:
    """A NeMo Skills judge's reply: correct (False where unparseable), parsed (False then), and the
    extracted answer and stated confidence (0-100, default 100) where the reply gives them."""
    text, _, _ = split_reasoning(content)
    verdict = is_correct_judgement(text)
    confidence = _CONFIDENCE.search(text)
    extracted = _EXTRACTED.search(text)
    answer = extracted.group(1) if extracted else None
    return {"correct": bool(verdict), "parsed": verdict is not None,
            "extracted_final_answer": None if answer in (None, "", "None") else answer,
            "confidence": min(100.0, float(confidence.group(1))) if confidence else 100.0}


def parse_judge_verdict(content: str | None) -> dict[str, Any]:
    """The official HLE judge's structured verdict (ExtractedAnswer): a dict with extracted_final_answer,
    reasoning, correct (bool) and confidence (0-100), from the JSON object the judge was asked for, or
    from the labelled lines of the prompt's format. Raises VerdictError."""
    text, _, _ = split_reasoning(content)
    fields: dict[str, Any] = {}
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            found = json.loads(text[start:end + 1])
        except ValueError:
            found = None
        if isinstance(found, dict):
            fields = {key.lower(): value for key, value in found.items()}
    if "correct" not in fields:
        for label, value in _VERDICT_LINE.findall(text):
            fields[{"judgement": "correct"}.get(label.lower(), label.lower())] = value
    correct = str(fields.get("correct", "")).strip().lower()
    if correct not in ("yes", "no"):
        snippet = " ".join(text.split())[:120]
        raise VerdictError(f"the judge's reply has no 'correct: yes/no' verdict: {snippet!r}")
    confidence = re.search(r"\d+(?:\.\d+)?", str(fields.get("confidence", "100")))
    extracted = fields.get("extracted_final_answer")
    return {"extracted_final_answer": None if extracted in (None, "None") else str(extracted),
            "reasoning": str(fields.get("reasoning", "")), "correct": correct == "yes", "parsed": True,
            "confidence": min(100.0, float(confidence.group())) if confidence else 100.0}


def judge_request(judge: str, question: str, answer: str, expected: str) -> tuple[list[dict[str, str]], dict]:
    """(messages, options) of the judge request: greedy, as NeMo Skills' judge runs."""
    if judge == "official":
        prompt = OFFICIAL_JUDGE_PROMPT.format(question=question, response=answer, correct_answer=expected)
        options = {"max_new_tokens": JUDGE_MAX_TOKENS, "temperature": 0.0, "response_format": VERDICT_FORMAT}
    else:
        prompt = JUDGE_PROMPT.format(problem=question, generation=answer, expected_answer=expected)
        options = {"max_new_tokens": JUDGE_MAX_TOKENS, "temperature": 0.0}
    return [{"role": "user", "content": prompt}], options


def judgement_metrics(outcomes: list[Any], repeats: int) -> dict[str, Any]:
    """`judge_unparseable`: the share of judged items whose judgement had no verdict (graded incorrect)."""
    judged = [inputs for outcome in outcomes for inputs in outcome.inputs if inputs and "parsed" in inputs]
    if not judged:
        return {}
    unparseable = sum(not inputs["parsed"] for inputs in judged)
    return {"judge_unparseable": {"value": unparseable / len(judged), "count": unparseable, "of": len(judged)}}
