"""HMMT February 2025: 30 competition problems; answers may be expressions (\\frac, \\sqrt, ...).

Data: MathArena/hmmt_feb_2025 (train split, the only one; fields problem_idx, problem, answer).
Prompt and scoring shared with AIME 2025 (pytest_nemoeval/tasks/math.py): NeMo Skills `generic/math`, last
\\boxed{}, math_equal on math-verify.
"""

from pytest_nemoeval import HubDataset, Suite
from pytest_nemoeval.tasks.math import prompt, score

suite = Suite(
    name="hmmt_feb25",
    data=HubDataset("MathArena/hmmt_feb_2025", split="train"),
    required_fields=("problem", "answer"),
    prompt=prompt,
    generation={"temperature": 0.6, "top_p": 0.95, "max_new_tokens": 32768},
    repeats=64,
    primary_metric="pass@1",
    requires={"math_verify": "pytest-nemoeval[math]"},
    id_field="problem_idx",
)


def test_hmmt_feb25(sample, response, verdict):
    score(sample, response, verdict)
