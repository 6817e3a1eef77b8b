"""MMLU, log-likelihood form: 14,042 questions in 57 subjects, 5-shot from each subject's dev split.

Task: lm-evaluation-harness `mmlu` (tasks/mmlu/default, lm-eval 0.4.8 as forked by NVIDIA's nvidia-lm-eval 26.3,
and 0.4.13), NeMo Evaluator's type `mmlu_logits` with --num_fewshot 5: the letters " A".." D" scored as
continuations of "...\\nAnswer:", acc over all questions, with the four groups (tasks/mmlu.py) and every subject
(the per-category breakdown).
The published base-model MMLU is the generative form: suites/test_mmlu.py.
"""

from pytest_nemoeval import Suite
from pytest_nemoeval.harness import HarnessTask, acc_metrics, multiple_choice_verdict
from pytest_nemoeval.tasks import mmlu

task = HarnessTask(text=mmlu.text, choices=lambda row: list(mmlu.LETTERS), target=lambda row: int(row["answer"]),
                   description=mmlu.description, fewshot=mmlu.FEWSHOT)

suite = Suite(
    name="mmlu_logits",
    harness=task,
    **mmlu.dataset_fields(),
    primary_metric="acc",
    metrics=(acc_metrics, mmlu.group_metrics),
)


def test_mmlu_logits(sample, response, verdict):
    scored = multiple_choice_verdict(task, sample, response)
    scored["metric_inputs"].update(mmlu.subject_of(sample))
    verdict(**scored)
