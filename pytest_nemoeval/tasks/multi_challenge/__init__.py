"""MultiChallenge (ekwinox117/multi-challenge, commit 5ccefcca, Feb 2025): its conversations and its judge.

- data: data/benchmark_questions.jsonl, 273 conversations {QUESTION_ID, AXIS, CONVERSATION, TARGET_QUESTION,
  PASS_CRITERIA}, the last message the user's; fetched from the repository at run time (it has no licence).
- judge (src/evaluator.py): JUDGE_PROMPT (judge_prompt.txt) filled with the model's response and the
  TARGET_QUESTION, one user message to gpt-4o-2024-08-06 at temperature 0 with the structured output
  JudgeResponse {reasoning: str, verdict: "YES" | "NO"} (`beta.chat.completions.parse`); passed when the
  verdict equals PASS_CRITERIA. The Evaluator also asks for max_tokens 4096 (its OpenAIModel drops it).
- score (src/result_parser.py): per axis, the share of its conversations passed; overall, the mean of the
  axis scores. With --attempts N a conversation passes when any attempt does (`overall_any_attempt` here);
  the repeats' average (pass@1 per axis, then the mean of the axes) is `overall`, the number reported.
"""

from __future__ import annotations

import json
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from pytest_nemoeval.data import DataSource
from pytest_nemoeval.errors import DataError, VerdictError
from pytest_nemoeval.extraction import split_reasoning
from pytest_nemoeval.metrics import SampleOutcome, Z95

REPOSITORY = "ekwinox117/multi-challenge"
REVISION = "5ccefcca6a39020d66c1383c4e6a809cb07afa33"
QUESTIONS = "data/benchmark_questions.jsonl"
JUDGE_MODEL = "gpt-4o-2024-08-06"
JUDGE_PROMPT = (Path(__file__).with_name("judge_prompt.txt")).read_text()  # .format(response, target_question)
# JudgeResponse as the JSON schema OpenAI's parse() sends for it (pydantic, strict)
VERDICT_FORMAT = {"type": "json_schema", "json_schema": {"name": "JudgeResponse", "strict": True, "schema": {
    "type": "object", "title": "JudgeResponse", "additionalProperties": False, "required": ["reasoning", "verdict"],
    "properties": {"reasoning": {"title": "Reasoning", "type": "string"},
                   "verdict": {"title": "Verdict", "type": "string", "enum": ["YES", "NO"]}}}}}
JUDGE_OPTIONS = {"temperature": 0.0, "max_new_tokens": 4096, "response_format": VERDICT_FORMAT}


@dataclass(frozen=True)
class MultiChallengeFile(DataSource):
    """benchmark_questions.jsonl from the repository at a pinned commit."""

    revision: str = REVISION

    def describe(self) -> str:
        return f"{REPOSITORY} {QUESTIONS} (revision {self.revision[:12]})"

    def at(self, revision: str) -> "MultiChallengeFile":
        return replace(self, revision=revision)

    def load(self, limit: int | None) -> Sequence[dict[str, Any]]:
        url = f"https://raw.githubusercontent.com/{REPOSITORY}/{self.revision}/{QUESTIONS}"
        try:
            with urllib.request.urlopen(url, timeout=120) as reply:
                lines = [line for line in reply.read().decode("utf-8").splitlines() if line.strip()]
        except OSError as exc:
            raise DataError(f"could not download {url}: {exc}; or use --data-dir") from None
        try:
            return [json.loads(line) for line in (lines if limit is None else lines[:limit])]
        except ValueError as exc:
            raise DataError(f"{url}: not JSON lines ({exc})") from None


def check_row(row: dict[str, Any], options: dict[str, Any]) -> bool:
    """Every row is kept; a conversation that does not end with the user's turn, or a criterion other than
    YES/NO, is a data error (nothing would be generated or judged as the benchmark does)."""
    conversation = row["CONVERSATION"]
    if not conversation or not isinstance(conversation, list) or conversation[-1].get("role") != "user":
        raise DataError(f"multi_challenge {row['QUESTION_ID']}: the conversation must end with a user message")
    if row["PASS_CRITERIA"] not in ("YES", "NO"):
        raise DataError(f"multi_challenge {row['QUESTION_ID']}: PASS_CRITERIA {row['PASS_CRITERIA']!r} "
                        "is not YES or NO")
    return True


def judge_messages(response: str, target_question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": JUDGE_PROMPT.format(response, target_question)}]


def parse_verdict(content: str | None) -> dict[str, str]:
    """The judge's JudgeResponse {reasoning, verdict}; VerdictError when it is not one."""
    text, _, _ = split_reasoning(content)
    start, end = text.find("{"), text.rfind("}")
    found = None
    if 0 <= start < end:
        try:
            found = json.loads(text[start:end + 1])
        except ValueError:
            found = None
    verdict = found.get("verdict") if isinstance(found, dict) else None
    if verdict not in ("YES", "NO"):
        snippet = " ".join(text.split())[:120]
        raise VerdictError(f"the judge's reply is not a JudgeResponse with verdict YES or NO: {snippet!r}")
    return {"reasoning": str(found.get("reasoning", "")), "verdict": verdict}


def metrics(outcomes: list[SampleOutcome], repeats: int) -> dict[str, Any]:
    """`overall` (the mean of the axis scores, each the pass rate over its conversations and repeats),
    `overall_any_attempt` (result_parser.py with --attempts: a conversation passes if any repeat does),
    `axis_<AXIS>` per axis, and `judge_unparseable` (verdicts that were not YES/NO: failures)."""
    by_axis: dict[str, list[list[bool]]] = defaultdict(list)
    unparseable = judged = 0
    for outcome in outcomes:
        axis = next((inputs["axis"] for inputs in outcome.inputs if inputs and "axis" in inputs), None)
        if axis is None:
            continue
        by_axis[axis].append(outcome.correct)
        for inputs in outcome.inputs:
            if inputs and "parsed" in inputs:
                judged += 1
                unparseable += not inputs["parsed"]
    if not by_axis:
        return {}
    result: dict[str, Any] = {}
    means, variances = [], []
    for axis, samples in sorted(by_axis.items()):
        rates = [sum(passed) / len(passed) for passed in samples]
        mean = sum(rates) / len(rates)
        variance = (sum((rate - mean) ** 2 for rate in rates) / (len(rates) - 1) / len(rates)
                    if len(rates) > 1 else 0.0)
        result[f"axis_{axis}"] = {"value": mean, "stderr": variance ** 0.5, "samples": len(rates)}
        means.append(mean)
        variances.append(variance)
    overall = sum(means) / len(means)
    stderr = sum(variances) ** 0.5 / len(means)  # the axes are disjoint samples: independent means
    result["overall"] = {"value": overall, "stderr": stderr, "ci95": [max(0.0, overall - Z95 * stderr), min(1.0, overall + Z95 * stderr)],
                         "samples": sum(len(samples) for samples in by_axis.values())}
    any_attempt = [sum(any(passed) for passed in samples) / len(samples) for samples in by_axis.values()]
    result["overall_any_attempt"] = {"value": sum(any_attempt) / len(any_attempt)}
    result["judge_unparseable"] = {"value": unparseable / judged if judged else 0.0, "count": unparseable,
                                   "of": judged}
    return result
