"""HellaSwag: 10,042 validation contexts, four endings each, 10-shot from train, scored by log-likelihood.

Task: lm-evaluation-harness `hellaswag` (tasks/hellaswag/hellaswag.yaml and utils.py, identical in lm-eval
0.4.8, which NVIDIA's nvidia-lm-eval 26.3 forks, and 0.4.13), the NeMo Evaluator type `hellaswag` with
--num_fewshot 10. Neither fewshot_split nor test_split is set, so the sampler draws 11 examples and drops the
sample itself (FewShot.draw_extra). Primary metric acc_norm, as the published table reports.
"""

import re

from pytest_nemoeval import HubDataset, Suite
from pytest_nemoeval.harness import FewShot, HarnessTask, acc_metrics, multiple_choice_verdict


def preprocess(text):
    """utils.preprocess: WikiHow's bracketed artefacts out."""
    text = text.strip()
    text = text.replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    return text.replace("  ", " ")


def query(row):
    """utils.process_docs `query`."""
    return preprocess(row["activity_label"] + ": " + row["ctx_a"] + " " + row["ctx_b"].capitalize())


task = HarnessTask(
    text=query,
    choices=lambda row: [preprocess(ending) for ending in row["endings"]],
    target=lambda row: int(row["label"]),
    fewshot=FewShot(HubDataset("Rowan/hellaswag", split="train"), shots=10, draw_extra=True),
)

suite = Suite(
    name="hellaswag",
    data=HubDataset("Rowan/hellaswag", split="validation"),
    harness=task,
    required_fields=("activity_label", "ctx_a", "ctx_b", "endings", "label"),
    primary_metric="acc_norm",
    id_field="ind",
    metrics=(acc_metrics,),
)


def test_hellaswag(sample, response, verdict):
    verdict(**multiple_choice_verdict(task, sample, response))
