"""Arena-Hard v2: its data (questions joined with the baseline answer of their category) and the pairwise judge.

Sources, as the published `ns_arena_hard_v2` task runs them (NeMo Skills, nemo-skills:26.03 container; the
arena-hard-v2 code of NVIDIA-NeMo/Skills PR #1205, Feb 2026):
- data: nemo_skills/dataset/arena-hard-v2/prepare.py: lmarena/arena-hard-auto data/arena-hard-v2.0/question.jsonl,
  the `prompt` renamed `question`, and `baseline_answer` from the category's baseline model's answers
  (hard_prompt: o3-mini-2025-01-31, creative_writing: gemini-2.0-flash-001; the assistant message's
  content, or its `answer` when the content is a dict), joined by `uid`; a missing baseline answer is an error.
- judge: nemo_skills/inference/eval/arena_judge.py: two requests per answer, the model's answer as A and the
  baseline as B ("gen-base"), then swapped ("base-gen"); the system prompt by category: `judge/arena`
  (hard_prompt; arena-hard-auto's OG_ARENA_HARD_PROMPT) or `judge/arena_creative` (creative_writing; no answer
  of the judge's own first), both as lmarena/arena-hard-auto utils/judge_utils.py JUDGE_SETTINGS; the user
  message is the `user` template of judge/arena.yaml (judge_user.txt).
- verdict: nemo_skills/evaluation/metrics/arena_metrics.py `_get_judge_score` (after arena-hard-auto
  gen_judgment.py): every `[[...]]` label in the judgement; exactly one distinct label is the verdict,
  none or several different ones are no verdict.
The score (Bradley-Terry win rate with its bootstrap interval) is in score.py.
"""

from __future__ import annotations

import json
import re
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from pytest_nemoeval.data import DataSource
from pytest_nemoeval.errors import DataError

HERE = Path(__file__).parent
REPOSITORY = "lmarena/arena-hard-auto"
# the newest snapshot read here (Jun 2025); the v2.0 files are unchanged since 7091a23 (Apr 2025). NeMo Skills
# reads `main`.
REVISION = "196f6b826783b3da7310e361a805fa36f0be83f3"
QUESTIONS = "data/arena-hard-v2.0/question.jsonl"
BASELINES = {  # category -> its baseline model's answers (prepare.py CATEGORY_BASELINES)
    "hard_prompt": "data/arena-hard-v2.0/model_answer/o3-mini-2025-01-31.jsonl",
    "creative_writing": "data/arena-hard-v2.0/model_answer/gemini-2.0-flash-001.jsonl",
}
JUDGE_SYSTEM = {category: (HERE / f"judge_system_{category}.txt").read_text() for category in BASELINES}
JUDGE_USER = (HERE / "judge_user.txt").read_text()  # .format(question=, answer_1=, answer_2=)
# the published task's judge settings (NeMo Evaluator all_tasks_irs.yaml ns_arena_hard_v2, nemo-skills 26.03):
# judge model azure/openai/gpt-4.1 (the suite's `judge`), max_new_tokens 4096, temperature not set (NeMo
# Skills' InferenceConfig default, 0.0)
JUDGE_OPTIONS = {"max_new_tokens": 4096, "temperature": 0.0}
LABEL = re.compile(r"\[\[([AB<>=]+)\]\]")  # arena_metrics.py _get_judge_score
VERDICTS = ("A>>B", "A>B", "A=B", "B>A", "B>>A")


@dataclass(frozen=True)
class ArenaHardFiles(DataSource):
    """The arena-hard-auto v2.0 questions, each with its category's baseline answer (prepare.py's test.jsonl)."""

    revision: str = REVISION

    def describe(self) -> str:
        return f"{REPOSITORY} data/arena-hard-v2.0 (revision {self.revision[:12]})"

    def at(self, revision: str) -> "ArenaHardFiles":
        return replace(self, revision=revision)

    def load(self, limit: int | None) -> Sequence[dict[str, Any]]:
        answers = {category: baseline_answers(self._lines(path)) for category, path in BASELINES.items()}
        rows = [json.loads(line) for line in self._lines(QUESTIONS)]
        return join_baselines(rows[:limit] if limit is not None else rows, answers)

    def _lines(self, path: str) -> list[str]:
        url = f"https://raw.githubusercontent.com/{REPOSITORY}/{self.revision}/{path}"
        try:
            with urllib.request.urlopen(url, timeout=120) as reply:
                return [line for line in reply.read().decode("utf-8").splitlines() if line.strip()]
        except OSError as exc:
            raise DataError(f"could not download {url}: {exc}; or use --data-dir") from None


def baseline_answers(lines: list[str]) -> dict[str, str]:
    """uid -> the answer of a model_answer file's assistant message (prepare.py `_extract_answer_text`)."""
    answers = {}
    for line in lines:
        row = json.loads(line)
        content = next((m["content"] for m in row["messages"] if m["role"] == "assistant"), None)
        if content is None:
            raise DataError(f"baseline answer of {row['uid']}: no assistant message")
        answers[row["uid"]] = content["answer"] if isinstance(content, dict) else content
    return answers


def join_baselines(rows: list[dict[str, Any]], answers: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    joined = []
    for row in rows:
        row = dict(row)
        row["question"] = row.pop("prompt")
        try:
            row["baseline_answer"] = answers[row["category"]][row["uid"]]
        except KeyError:
            raise DataError(f"arena-hard-v2 question {row['uid']} ({row['category']}): no baseline answer") from None
        joined.append(row)
    return joined


def check_category(row: dict[str, Any], options: dict[str, Any]) -> bool:
    """Every row is kept; a category without a judge prompt is an error (arena_judge.py fails on it too)."""
    if row["category"] not in JUDGE_SYSTEM:
        raise DataError(f"arena_hard_v2 row {row.get('uid')}: category {row['category']!r} has no judge prompt "
                        f"(known: {', '.join(JUDGE_SYSTEM)})")
    return True


def judge_requests(sample: dict[str, Any], answer: str) -> list[list[dict[str, str]]]:
    """The two judge conversations: the model's answer as A against the baseline as B, then swapped."""
    system = JUDGE_SYSTEM[sample["category"]]
    orders = ((answer, sample["baseline_answer"]), (sample["baseline_answer"], answer))
    return [[{"role": "system", "content": system},
             {"role": "user", "content": JUDGE_USER.format(question=sample["question"], answer_1=first,
                                                           answer_2=second)}]
            for first, second in orders]


def judge_verdict(judgement: str | None) -> str | None:
    """The judgement's label ("A>>B" ... "B>>A"), or None: no label, or labels that disagree."""
    labels = set(LABEL.findall(judgement or ""))
    return labels.pop() if len(labels) == 1 else None
