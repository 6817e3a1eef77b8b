"""AIME 2026: the 30 problems of AIME 2026 I and II, integer answers in \\boxed{}.

Data: MathArena/aime_2026 (train split, its only one; fields problem_idx, problem, answer; CC BY-NC-SA 4.0,
so loaded at run time and never shipped: examples/data/aime2026.jsonl holds made-up rows). The published
`ns_aime2026` task (NeMo Evaluator's Nemotron 3 Super config): 64 repeats, `++inference.tokens_to_generate=null`
(no max_tokens). Prompt and scoring are aime25's (test_aime25.py, pytest_nemoeval/tasks/math.py): NeMo Skills
`generic/math`, the last \\boxed{}, math_equal on math-verify.
"""

from pytest_nemoeval import HubDataset, Suite
from pytest_nemoeval.tasks.math import prompt, score

suite = Suite(
    name="aime2026",
    data=HubDataset("MathArena/aime_2026", split="train"),  # not pinned: no revision could be checked here
    required_fields=("problem", "answer"),
    prompt=prompt,
    generation={"temperature": 0.6, "top_p": 0.95, "max_new_tokens": None},
    repeats=64,
    primary_metric="pass@1",
    requires={"math_verify": "pytest-nemoeval[math]"},
    id_field="problem_idx",
)


def test_aime2026(sample, response, verdict):
    score(sample, response, verdict)
