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

import pytest

from pytest_nemoeval.metrics import SampleOutcome, ratio_summary, summarize

TEST_DATA = "test_data.h5"
# where the reference harness gets it (scicode-bench/SciCode eval/scripts/README.md; NeMo Skills'
# Dockerfile.sandbox downloads the same file with gdown into /data/test_data.h5)
TEST_DATA_SOURCE = ("the numeric targets of SciCode's tests: `pip install gdown && gdown "
                    "17G_k65N_6yFFZ2O-jQH00Lh6iaw3z-AW -O DIR/test_data.h5`, or from the Google Drive folder "
                    "https://drive.google.com/drive/folders/1W5GZW6_bdiDAiipuFMqdUhvUaHIj6-pR; rows: "
                    "problems_test.jsonl of SciCode1/SciCode saved as DIR/scicode.jsonl")
HARNESS = Path(__file__).with_name("scicode_harness.py")


@functools.cache
def _harness_source() -> str:  # placed in every step's program: read once
    return HARNESS.read_text()

# NeMo Skills eval/scicode/default.yaml (the official background_comment_template.txt). The published task
# fills it with each step's background too (SciCodeGenerationConfig.with_background defaults to True and
# the task only overrides prompt_config), so WITH_BACKGROUND is True.
PROMPT = """PROBLEM DESCRIPTION:
You will be provided with the main description of the problem, previous steps, and the next step. Your task will be to generate the disciplinary knowledge necessary for solving the next step and then develop a Python solution focused on this step.

PREVIOUS STEPS DESCRIPTION:
{problem_steps_str}

NEXT STEP - PROBLEM DESCRIPTION AND FUNCTION HEADER:
This part will describe the next step in the problem-solving process. First, provide the necessary scientific background knowledge as a comment at the beginning of your response, starting with 'Background: '. Then, a function header will be provided, and your task is to develop the Python code for this next step based on the provided description and function header.

{next_step_str}

DEPENDENCIES:
Use only the following dependencies in your solution. Do not include these dependencies at the beginning of your code.
{dependencies}

RESPONSE GUIDELINES:
1. Start with the scientific background required for the next step, formatted as a comment.
2. Then write the complete and executable Python program for the next step in a single block.
3. Your response should focus exclusively on implementing the solution for the next step, adhering closely to the specified function header and the context provided by the initial steps.
4. DO NOT include previous function code, example usage or test code in your response.
5. Ensure your response is in the format of ```python``` and includes the necessary background as a comment at the top.

Example:
```python
# Background: [Here, insert the necessary scientific knowledge required for the next step.]

[Insert the Python code here based on the provided function header and dependencies.]
```"""
WITH_BACKGROUND = True

# Steps whose code the benchmark provides (no tests, no generation): scicode-bench/SciCode eval/data/13.6.txt,
# 62.1.txt, 76.3.txt, keyed by (problem_id, step index) as in NeMo Skills scicode_utils.prefilled_steps_code.
PREFILLED = {
    ('13', 5): r'''def __init__(self, n_grid, x_out):
    """Constructor sets up coordinates, memory for variables.
        The variables:
            mesh points:
                x: the x coordinate for each mesh grid
                y: the y coordinate for each mesh grid
                z: the z coordinate for each mesh grid
                t: the time coordinate of the simulation
                r: the distance to the origin for each mesh grid
            evolving fields:
                E_x: the x component of the field E
                E_y: the y componnet of the field E
                E_z: the z component of the field E
                A_x: the x component of the field A
                A_y: the y component of the field A
                A_z: the z component of the field A
                phi: the scalar potential field phi values
            monitor variables:
                constraint: the current constraint violation value from the evolving fields.

        """
    self.n_grid = n_grid
    self.n_vars = 7
    self.delta = float(x_out) / (n_grid - 2.0)
    delta = self.delta
    self.x = np.linspace(-self.delta * 0.5, x_out + 0.5 * self.delta, self.n_grid)[:, None, None]
    self.y = np.linspace(-self.delta * 0.5, x_out + 0.5 * self.delta, self.n_grid)[None, :, None]
    self.z = np.linspace(-self.delta * 0.5, x_out + 0.5 * self.delta, self.n_grid)[None, None, :]
    self.r = np.sqrt(self.x ** 2 + self.y ** 2 + self.z ** 2)
    self.E_x = zeros((n_grid, n_grid, n_grid))
    self.E_y = zeros((n_grid, n_grid, n_grid))
    self.E_z = zeros((n_grid, n_grid, n_grid))
    self.A_x = zeros((n_grid, n_grid, n_grid))
    self.A_y = zeros((n_grid, n_grid, n_grid))
    self.A_z = zeros((n_grid, n_grid, n_grid))
    self.phi = zeros((n_grid, n_grid, n_grid))
    self.constraint = zeros((n_grid, n_grid, n_grid))
    self.t = 0.0''',
    ('62', 0): r'''def __init__(self, length, basis_size, operator_dict):
    self.length = length
    self.basis_size = basis_size
    self.operator_dict = operator_dict''',
    ('76', 2): r'''def generate_dna(N: int, PWM: dict) -> tuple:
    """
    Input:
    N (int): Length of the resultant DNA sequence.
    PWM matrix with keys 'A', 'C', 'G', 'T'

    Output:
    tuple: Insertion location (int), DNA sequence (str), DNA reverse complement (str)
    """
    p = random.randint(0, N - 1)
    nucleotide = 'ACGT'
    uni_weights = [0.25, 0.25, 0.25, 0.25]
    dna_string = ''.join(random.choices(nucleotide, uni_weights, k=N))
    spike_mat = load_motif_from_df(PWM)
    spiked_seq = ''.join((random.choices(nucleotide, weights=[PWM[nuc][i] for nuc in nucleotide], k=1)[0] for i in range(len(PWM['A']))))
    complement = {'A': 'T', 'T': 'A', 'C': 'G', 'G': 'C'}
    reversed_seq = dna_string[::-1]
    reverse_complement = ''.join((complement[nuc] for nuc in reversed_seq if nuc in complement))
    new_seq = dna_string[:p] + spiked_seq + dna_string[p:]
    new_seq_rc = reverse_complement[:N - p] + spiked_seq + reverse_complement[N - p:]
    return (p, new_seq, new_seq_rc)''',
}

# NeMo Skills is_context_window_exceeded_error: the prompt outgrew the context, later steps fail unanswered
CONTEXT_EXCEEDED = ("Requested token count exceeds", "exceeds maximum input length", "should not exceed max_seq_len",
                    "reduce the length of the input messages", "'max_completion_tokens' is too large",
                    "max_tokens must be at least 1, got -", "maximum context length")
_IMPORT_LINE = re.compile(r"^\s*(import .*|from .*\s+import\s+.*)", re.MULTILINE)
_SCICODE_IMPORT = re.compile(r"^\s*(from\s+scicode\.|import\s+scicode)\b")
# names the reference sandbox has (scipy 1.10.1, numpy 1.x) that current releases removed: aliased, never replaced
NUMPY_COMPAT = """\
import numpy as _np
for _old, _new in (("trapz", "trapezoid"), ("float_", "float64"), ("complex_", "complex128"), ("Inf", "inf"),
                   ("NaN", "nan"), ("infty", "inf")):
    if not hasattr(_np, _old):
        setattr(_np, _old, getattr(_np, _new))
"""
SCIPY_COMPAT = """\
import scipy.integrate as _si
if not hasattr(_si, "simps"):
    _si.simps = lambda y, x=None, dx=1.0, axis=-1, even=None: _si.simpson(y, x=x, dx=dx, axis=axis)
if not hasattr(_si, "trapz"):
    _si.trapz = lambda y, x=None, dx=1.0, axis=-1: _si.trapezoid(y, x=x, dx=dx, axis=axis)
if not hasattr(_si, "cumtrapz"):
    _si.cumtrapz = lambda y, x=None, dx=1.0, axis=-1, initial=None: _si.cumulative_trapezoid(
        y, x=x, dx=dx, axis=axis, initial=initial)
"""
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


def context_exceeded(error: BaseException) -> bool:
    return any(marker in str(error) for marker in CONTEXT_EXCEEDED)


def _ratio(outcomes: list[SampleOutcome], key: str) -> dict[str, Any]:
    """sum(passed) / sum(steps) over every repeat, as NeMo Skills' subtask_accuracy; the interval treats
    each problem as a cluster (ratio estimator)."""
    clusters = [(sum(i[key] for i in o.inputs if i), sum(i["steps"] for i in o.inputs if i)) for o in outcomes]
    clusters = [(passed, total) for passed, total in clusters if total]
    return ratio_summary([passed for passed, _ in clusters], [total for _, total in clusters])


@pytest.hookimpl
def pytest_nemoeval_metrics(benchmark: str, outcomes: list[SampleOutcome], repeats: int) -> dict[str, Any]:
    if benchmark != "scicode":
        return {}
    scored = [outcome for outcome in outcomes if outcome.correct]
    return {"subtask": _ratio(scored, "passed"),
            "problem": summarize([sum(outcome.correct) / len(outcome.correct) for outcome in scored])}
