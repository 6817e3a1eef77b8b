"""CritPt as NeMo Skills' `ns_critpt` runs and grades it (NVIDIA-NeMo/Skills: inference/eval/critpt.py at
88d03b80, evaluation/evaluator/critpt.py at 8c78775d, prompts eval/critpt/solve_problem at 4a4ef7f6 and
eval/critpt/code_output at b98b7aac):

- two turns: the problem under the CritPt system prompt (solve_problem_system.txt, the official template), then
  the reply as the assistant's message and the code_output turn with the problem's code template
  (code_output.txt);
- grading: the last fenced code block of the second reply (else the whole reply), fenced as ```python, posted
  with every other problem of the same repeat to Artificial Analysis' API: `{"submissions": [{problem_id,
  generated_code, model: "unknown", generation_config: {}}] x 70, "batch_metadata": {}}`, header `x-api-key`.
  The API grades exactly the 70 problems at once and returns only the aggregate `accuracy`; each repeat is one
  batch and the score is the mean over repeats (NeMo Skills' pass@1[avg-of-3] of `full_dataset_accuracy`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterable

from pytest_nemoeval.errors import Unscored
from pytest_nemoeval.metrics import SampleOutcome, summarize

HERE = Path(__file__).parent
SYSTEM = (HERE / "solve_problem_system.txt").read_text().format()  # NeMo Skills fills it: {{2}} -> {2}
CODE_TURN = (HERE / "code_output.txt").read_text()  # .format(code_template=)
BATCH = 70  # the API grades all 70 problems at once, no fewer and no more
_FENCE = re.compile(r"```(?:python)?\s*\n(.*?)\n```", re.DOTALL)


def prompt(row: dict[str, Any]) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": row["problem_description"]}]


def code_turn(row: dict[str, Any]) -> dict[str, str]:
    return {"role": "user", "content": CODE_TURN.format(code_template=row["code_template"])}


def generated_code(text: str) -> str:
    """The code submitted for a reply: its last fenced block (else all of it), fenced as ```python."""
    blocks = _FENCE.findall(text or "")
    code = blocks[-1].strip() if blocks else (text or "").strip()
    return code if code.startswith("```") else f"```python\n{code}\n```"


def submission(problem_id: str, code: str) -> dict[str, Any]:
    return {"problem_id": problem_id, "generated_code": code, "model": "unknown", "generation_config": {}}


def batches(entries: Iterable[tuple[int, str, str]]) -> dict[int, list[dict[str, Any]]]:
    """(repeat, problem_id, code) -> one list of submissions per repeat, ordered by problem id (the same batch
    from the run and from its samples.jsonl, so that a graded batch is found in the cache)."""
    grouped: dict[int, list[dict[str, Any]]] = {}
    for repeat, problem_id, code in sorted(entries):
        grouped.setdefault(repeat, []).append(submission(problem_id, code))
    return grouped


def submit(batch: list[dict[str, Any]], url: str, key: str, timeout: float = 600.0) -> dict[str, Any]:
    """One batch posted to the API; its JSON answer. Raises Unscored with one line on any failure."""
    payload = json.dumps({"submissions": batch, "batch_metadata": {}}).encode()
    request = urllib.request.Request(url, data=payload, method="POST",
                                     headers={"x-api-key": key, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = " ".join(exc.read().decode(errors="replace").split())[:200]
        raise Unscored(f"the CritPt API ({url}) answered HTTP {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise Unscored(f"the CritPt API ({url}) could not be reached or read: {exc}") from None
    if not isinstance(answer, dict) or not isinstance(answer.get("accuracy"), (int, float)):
        raise Unscored(f"the CritPt API ({url}) returned no accuracy: {str(answer)[:200]}")
    return answer


def grade(grouped: dict[int, list[dict[str, Any]]], url: str, key_env: str, cache_dir: Path) -> dict[str, Any]:
    """Every repeat's batch graded, each repeat submitted as NeMo Skills submits each output file (an answer
    already received for the same repeat and batch is read from cache_dir, as NeMo Skills keeps its response
    file: the API is rate-limited); the metrics. Raises Unscored."""
    if not grouped:
        raise Unscored("no CritPt answers to grade")
    short = {repeat: len(batch) for repeat, batch in grouped.items() if len(batch) != BATCH}
    if short:
        raise Unscored(f"the CritPt API grades all {BATCH} problems at once and this run has "
                       f"{next(iter(short.values()))} (drop --limit-samples)")
    key = os.environ.get(key_env)
    answers = []
    for repeat, batch in grouped.items():
        digest = hashlib.sha256(json.dumps([repeat, batch], sort_keys=True).encode()).hexdigest()[:16]
        cached = cache_dir / f"api-{digest}.json"
        if cached.is_file():
            answers.append(json.loads(cached.read_text()))
            continue
        if not key:
            raise Unscored(f"the environment variable {key_env} (the Artificial Analysis API key that grades "
                           f"CritPt) is not set; the answers are kept: `python -m pytest_nemoeval grade RESULTS_DIR` "
                           f"grades them later")
        answer = submit(batch, url, key)
        cache_dir.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(answer, indent=2) + "\n")
        answers.append(answer)
    judge_errors = sum(int(answer.get("judge_error_count", 0)) for answer in answers)
    accuracy = summarize([float(answer["accuracy"]) for answer in answers])  # between repeats: no per-problem results
    accuracy.update(samples=BATCH, per_repeat=[answer["accuracy"] for answer in answers])
    return {"accuracy": accuracy, "pass@1": dict(accuracy),
            "api_timeout_rate": {"value": sum(float(a.get("timeout_rate", 0.0)) for a in answers) / len(answers)},
            "api_judge_errors": {"value": judge_errors / (BATCH * len(answers)), "count": judge_errors}}


def answers_of(outcomes: list[SampleOutcome]) -> Iterable[tuple[int, str, str]]:
    """(repeat, problem_id, code) of every item; an item that errored submits empty code (graded wrong)."""
    for outcome in outcomes:
        for repeat, inputs in enumerate(outcome.inputs):
            inputs = inputs or {}
            code = generated_code("") if outcome.errored(repeat) else inputs.get("code", generated_code(""))
            yield repeat, str(inputs["problem_id"]), code


def run_grader(outcomes: list[SampleOutcome], repeats: int, run: Any) -> dict[str, Any]:
    """Suite.run_grader: the run's batches graded with the key named by --critpt-api-key-env."""
    settings = run.section("critpt")
    return grade(batches(answers_of(outcomes)), settings["api_url"], settings["api_key_env"],
                 Path(run.results_dir) / "critpt")
