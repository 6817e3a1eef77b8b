"""HMMT February 2025: 30 competition problems; answers may be expressions (\\frac, \\sqrt, ...).

Data: MathArena/hmmt_feb_2025 (train split, the only one; fields problem_idx, problem, answer).
Prompt and scoring as AIME 2025: NeMo Skills `generic/math`, last \\boxed{}, math_equal on math-verify.
"""

from pytest_nemoeval import HubDataset, Suite, extract_math_answer, math_equal

INSTRUCTION = "Solve the following math problem. Make sure to put the answer (and only answer) inside \\boxed{}.\n\n"

suite = Suite(
    name="hmmt_feb25",
    data=HubDataset("MathArena/hmmt_feb_2025", split="train"),
    required_fields=("problem", "answer"),
    prompt=lambda row: INSTRUCTION + row["problem"],
    generation={"temperature": 0.6, "top_p": 0.95, "max_new_tokens": 32768},
    repeats=64,
    primary_metric="pass@1",
    requires={"math_verify": "pytest-nemoeval[math]"},
    id_field="problem_idx",
)


def test_hmmt_feb25(sample, response, verdict):
    answer = extract_math_answer(response.text)
    verdict(math_equal(sample["answer"], answer), answer=answer, expected=str(sample["answer"]))
