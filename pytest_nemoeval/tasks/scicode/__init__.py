"""SciCode: prompts, code extraction, test programs and the sub-step / problem metrics.

Reference: NeMo Skills (the published `scicode` task): nemo_skills/inference/eval/scicode.py and
scicode_utils.py (generation), evaluation/evaluator/scicode.py (execution), evaluation/metrics/code_metrics.py
SciCodeMetrics; they follow scicode-bench/SciCode eval/scripts/gencode.py and test_generated_code.py.
Light on purpose: the plugin registers this module for its metric hook; the harness runs only in the sandbox.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from pytest_nemoeval.errors import context_exceeded  # noqa: F401  (the suite asks it here)
from pytest_nemoeval.metrics import SampleOutcome, ratio_summary, summarize

TEST_DATA = "test_data.h5"
# where the reference harness gets it (scicode-bench/SciCode eval/scripts/README.md; NeMo Skills'
# Dockerfile.sandbox downloads the same file with gdown into /data/test_data.h5)
TEST_DATA_SOURCE = ("the numeric targets of SciCode's tests: `pip install gdown && gdown "
                    "17G_k65N_6yFFZ2O-jQH00Lh6iaw3z-AW -O DIR/test_data.h5`, or from the Google Drive folder "
                    "https://drive.google.com/drive/folders/1W5GZW6_bdiDAiipuFMqdUhvUaHIj6-pR; rows: "
                    "problems_test.jsonl of SciCode1/SciCode saved as DIR/scicode.jsonl")
HERE = Path(__file__).parent
HARNESS = HERE / "harness.py"


@functools.cache
def _harness_source() -> str:  # placed in every step's program: read once
    return HARNESS.read_text()

# NeMo Skills eval/scicode/default.yaml (the official background_comment_template.txt). The published task
# fills it with each step's background too (SciCodeGenerationConfig.with_background defaults to True and
# the task only overrides prompt_config), so WITH_BACKGROUND is True.
PROMPT = (HERE / "prompt.txt").read_text()
WITH_BACKGROUND = True

# Steps whose code the benchmark provides (no tests, no generation): scicode-bench/SciCode eval/data/13.6.txt,
# 62.1.txt, 76.3.txt, keyed by (problem_id, step index) as in NeMo Skills scicode_utils.prefilled_steps_code.
PREFILLED = {(name.split(".")[0], int(name.split(".")[1]) - 1): (HERE / "prefilled" / name).read_text()
             for name in ("13.6.txt", "62.1.txt", "76.3.txt")}

_IMPORT_LINE = re.compile(r"^\s*(import .*|from .*\s+import\s+.*)", re.MULTILINE)
_SCICODE_IMPORT = re.compile(r"^\s*(from\s+scicode\.|import\s+scicode)\b")
# names the reference sandbox has (scipy 1.10.1, numpy 1.x) that current releases removed: aliased, never replaced
NUMPY_COMPAT = (HERE / "numpy_compat.py").read_text()
SCIPY_COMPAT = (HERE / "scipy_compat.py").read_text()
_SCIPY_REMOVED = re.compile(r"\b(simps|trapz|cumtrapz)\b")  # scipy.integrate is slow to import: only when used


def describe(step: dict[str, Any]) -> str:
    if WITH_BACKGROUND:
        return step["step_description_prompt"] + "\n" + step["step_background"]
    return step["step_description_prompt"]


def step_prompt(problem: dict[str, Any], index: int, codes: list[str]) -> str:
    """The prompt for step `index`, given the code kept for every earlier step (NeMo Skills process_problem_steps)."""
    steps = problem["sub_steps"]
    earlier: list[str] = []
    for step, code in zip(steps[:index], codes):
        earlier += [describe(step), code, "------"]
    step = steps[index]
    next_step = "\n\n".join([describe(step), f"{step['function_header']}\n\n{step['return_line']}"])
    return PROMPT.format(problem_steps_str="\n\n".join(earlier[:-1]), next_step_str=next_step,
                         dependencies=problem["required_dependencies"])


def first_prompt(problem: dict[str, Any]) -> str:
    """The first request's prompt: the first step whose code the benchmark does not provide."""
    codes: list[str] = []
    while (problem["problem_id"], len(codes)) in PREFILLED:
        codes.append(PREFILLED[problem["problem_id"], len(codes)])
    return step_prompt(problem, len(codes), codes)


def extract_code(text: str) -> tuple[str, bool]:
    """(code, found a fenced block): the first ```python block, else the first ``` block, else the whole text;
    import lines removed, since the program starts with the problem's dependencies (NeMo Skills extract_python_script)."""
    fenced = "```" in text
    if fenced:
        marker = "```python" if "```python" in text else "```"
        text = text.split(marker)[1].split("```")[0]
    return _IMPORT_LINE.sub("", text), fenced


def solution(problem: dict[str, Any], codes: list[str], code: str) -> str:
    """The step's program: dependencies, the code of every earlier step, then this step's code."""
    earlier = "\n".join(codes)
    head = f"{problem['required_dependencies']}\n{earlier}\n" if earlier else f"{problem['required_dependencies']}\n"
    return f"{head}\n{code}"


def step_program(solution_code: str, step: dict[str, Any], test_data: Path) -> str:
    """The solution, the harness, then each test case with its `target` from test_data.h5 (NeMo Skills evaluator)."""
    tests = ["\n".join(line for line in case.split("\n") if not _SCICODE_IMPORT.match(line))
             for case in step["test_cases"]]
    compat = NUMPY_COMPAT + (SCIPY_COMPAT if _SCIPY_REMOVED.search(solution_code + "".join(tests)) else "")
    parts = [compat, solution_code, f"\nH5PY_FILE = {str(test_data)!r}\n", _harness_source(),
             f"targets = process_hdf5_to_tuple({step['step_number']!r}, {len(tests)})\n"]
    for index, case in enumerate(tests):
        parts.append(f"target = targets[{index}]\n\n" + "".join(line + "\n" for line in case.split("\n")))
    return "".join(parts)


def targets_path(settings: dict[str, Any]) -> Path:
    return (Path(settings["data_dir"]) / TEST_DATA).resolve()


def failed_inputs(problem: dict[str, Any]) -> dict[str, Any]:
    """The suite's `Suite(failed_inputs=...)`: an item that errored passed none of the steps the model writes."""
    steps = sum((problem["problem_id"], index) not in PREFILLED for index in range(len(problem["sub_steps"])))
    return {"passed": 0, "steps": steps}


def metrics(outcomes: list[SampleOutcome], repeats: int) -> dict[str, Any]:
    """`subtask` (NeMo Skills' subtask_accuracy, the model card's number: passed steps / all steps of every
    repeat, each problem a cluster of the ratio estimator) and `problem` (every step passed), over every problem.

    A repeat that errored passed no step; its steps (counted from its row by `failed_inputs`, else from another
    repeat) stay in the denominator; a problem whose step count is unknown counts only in `problem`."""
    passed, steps = [], []
    for outcome in outcomes:
        known = next((inputs["steps"] for inputs in outcome.inputs if inputs), None)
        total = sum(inputs["steps"] if inputs else known or 0 for inputs in outcome.inputs)
        if total:
            steps.append(total)
            passed.append(sum(inputs["passed"] for repeat, inputs in enumerate(outcome.inputs)
                              if inputs and not outcome.errored(repeat)))
    return {"subtask": ratio_summary(passed, steps),
            "problem": summarize([sum(outcome.correct) / len(outcome.correct) for outcome in outcomes])}
