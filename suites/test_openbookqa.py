"""OpenBookQA: 500 test questions, four options, zero-shot, scored by log-likelihood.

Task: lm-evaluation-harness `openbookqa` (tasks/openbookqa/openbookqa.yaml, identical in lm-eval 0.4.8 / NVIDIA's
nvidia-lm-eval 26.3 and 0.4.13), the NeMo Evaluator type `openbookqa` (no --num_fewshot: zero-shot). The
question stem alone is the context; each option, after a space, the continuation. Primary metric acc_norm.
"""

from pytest_nemoeval import HubDataset, Suite
from pytest_nemoeval.harness import HarnessTask, acc_metrics, multiple_choice_verdict

task = HarnessTask(
    text=lambda row: row["question_stem"],
    choices=lambda row: list(row["choices"]["text"]),
    target=lambda row: row["choices"]["label"].index(row["answerKey"].lstrip()),
)

suite = Suite(
    name="openbookqa",
    data=HubDataset("allenai/openbookqa", name="main", split="test"),
    harness=task,
    required_fields=("id", "question_stem", "choices", "answerKey"),
    primary_metric="acc_norm",
    id_field="id",
    metrics=(acc_metrics,),
)


def test_openbookqa(sample, response, verdict):
    verdict(**multiple_choice_verdict(task, sample, response))
