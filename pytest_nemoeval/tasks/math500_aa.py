"""MATH-500 as NeMo Evaluator's `AA_math_test_500` grades it, through the harness itself (nvidia-simple-evals 26.3,
`simple_evals.evals.math_eval.MathEval`): the task's config (configs/tasks/AA_math_test_500.yml) names the
Artificial Analysis boxed template, the regex that takes the last \\boxed{} (to the last closing brace of the
reply), and `use_sympy_first`; `simple_evals.common.check_equality` then grades: no extracted answer is wrong,
the harness's sympy grader (PRM800K's) decides when it finds the two equal, else its equality-checker prompt goes
to the judge (configs/judge/llama70b.yaml: meta/llama-3.3-70b-instruct, temperature 0, top_p 1e-4, 512 tokens)
and a reply of "yes" is correct. Which of the two decided is recorded per item (`decided_by`).
"""

from __future__ import annotations

import functools
import re
import warnings
from pathlib import Path
from typing import Any, Awaitable, Callable

import yaml

from pytest_nemoeval.metrics import SampleOutcome, summarize

TASK = "AA_math_test_500"
JUDGE_CONFIG = "llama70b"  # the harness's default judge, the published run's (NGC_API_KEY as JUDGE_API_KEY)


@functools.cache
def task() -> tuple[str, str, bool]:
    """(prompt template, answer regex, use_sympy_first) of the task, from the harness's own config files."""
    with warnings.catch_warnings():  # the harness's regex tables have invalid escapes: noise for our users
        warnings.simplefilter("ignore", DeprecationWarning)
        from simple_evals import common

    config = common.load_task_config(TASK)
    return (common.load_template(config["template_file"]).strip(), common.load_regex(config["regex_file"]),
            bool(config.get("use_sympy_first", False)))


@functools.cache
def judge_options() -> dict[str, Any]:
    import simple_evals

    path = Path(simple_evals.__file__).parent / "configs" / "judge" / f"{JUDGE_CONFIG}.yaml"
    config = yaml.safe_load(path.read_text())
    return {"temperature": config["temperature"], "top_p": config["top_p"], "max_new_tokens": config["max_tokens"]}


def prompt(row: dict[str, Any]) -> str:
    return task()[0].format(Question=row["problem"])  # MathEval renames problem to Question


def extract(text: str) -> str:
    """The harness's extraction: the regex's group, "" without a match."""
    match = re.search(task()[1], text)
    return match.group(1) if match else ""


async def grade(expected: str, extracted: str, ask_judge: Callable[[list[dict[str, str]]], Awaitable[str]]
                ) -> tuple[bool, str]:
    """(equal, decided_by) from the harness's check_equality; decided_by is "none" (nothing extracted),
    "sympy" or "judge"."""
    from simple_evals.common import check_equality

    asked = []

    async def sampler(messages: list[dict[str, str]]) -> str:
        asked.append(True)
        return await ask_judge(messages)

    equal = await check_equality(sampler, expected, extracted, use_sympy=task()[2])
    return bool(equal), ("none" if not extracted else "judge" if asked else "sympy")


def metrics(outcomes: list[SampleOutcome], repeats: int) -> dict[str, Any]:
    """`decided_by_sympy` and `decided_by_judge`: the share of items each grader decided (the rest had no
    answer or errored), averaged per sample as accuracy is."""
    shares: dict[str, list[float]] = {"sympy": [], "judge": []}
    for outcome in outcomes:
        decided = [(inputs or {}).get("decided_by") for inputs in outcome.inputs]
        for name, values in shares.items():
            values.append(decided.count(name) / len(decided))
    return {f"decided_by_{name}": summarize(values) for name, values in shares.items()} if outcomes else {}
