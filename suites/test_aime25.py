"""AIME 2025: the 30 problems of AIME 2025 I and II, integer answers in \\boxed{}.

Data: math-ai/aime25 (test split; fields problem, answer, id), the 30 problems in one split (the
opencompass/AIME2025 copy keeps I and II as two configs). Prompt: NeMo Skills `generic/math`, the prompt of
the published `ns_aime25` task. Scoring: last \\boxed{} (balanced braces), judged with NeMo Skills'
math_equal on math-verify; integers compare as numbers ("016" == 16). Both in pytest_nemoeval/tasks/math.py.
"""

from pytest_nemoeval import HubDataset, Suite
from pytest_nemoeval.tasks.math import prompt, score

REVISION = "563bb8404243c5f09de6ec262f2db674fe5bce9b"  # 30 problems, see docs/fidelity.md

suite = Suite(
    name="aime25",
    data=HubDataset("math-ai/aime25", split="test", revision=REVISION),
    required_fields=("problem", "answer"),
    prompt=prompt,
    generation={"temperature": 0.6, "top_p": 0.95, "max_new_tokens": 32768},
    repeats=64,
    primary_metric="pass@1",
    requires={"math_verify": "pytest-nemoeval[math]"},
    id_field="id",
)


def test_aime25(sample, response, verdict):
    score(sample, response, verdict)
