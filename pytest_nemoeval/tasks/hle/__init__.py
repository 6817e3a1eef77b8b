"""HLE's judge: the official judge prompt (judge_prompt.txt), the structured verdict it asks for and its parser.

Source: centerforaisafety/hle, hle_eval/run_judge_results.py (JUDGE_PROMPT, ExtractedAnswer). The calibration
error of the stated confidence is in calibration.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pytest_nemoeval.errors import VerdictError
from pytest_nemoeval.extraction import split_reasoning

JUDGE_PROMPT = (Path(__file__).parent / "judge_prompt.txt").read_text()
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


def parse_judge_verdict(content: str | None) -> dict[str, Any]:
    """The HLE judge's structured verdict (hle_eval/run_judge_results.py, ExtractedAnswer): a dict with
    extracted_final_answer, reasoning, correct (bool) and confidence (0-100), from the JSON object the
    judge was asked for, or from the labelled lines of the prompt's format. Raises VerdictError."""
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
            "reasoning": str(fields.get("reasoning", "")), "correct": correct == "yes",
            "confidence": min(100.0, float(confidence.group())) if confidence else 100.0}
