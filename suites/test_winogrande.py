"""Winogrande: 1,267 validation sentences with a blank and two options, 5-shot, partial evaluation.

Task: lm-evaluation-harness `winogrande` (tasks/winogrande/default.yaml and preprocess_winogrande.py, identical
in lm-eval 0.4.8 / NVIDIA's nvidia-lm-eval 26.3 and 0.4.13), which NeMo Evaluator's `adlr_winogrande_5_shot`
runs with --num_fewshot 5. Partial evaluation: the two contexts are the sentence up to the blank with each
option filled in, and the continuation (the rest of the sentence) is shared; the option under which it is more
likely wins. Few-shot examples from winogrande_xl train, drawn as 6 with the sample dropped (draw_extra).
"""

from pytest_nemoeval import HubDataset, Suite
from pytest_nemoeval.harness import FewShot, HarnessTask, acc_metrics, multiple_choice_verdict


def options(row):
    """preprocess_winogrande.doc_to_choice: the sentence up to the blank, with each option."""
    blank = row["sentence"].index("_")
    return [row["sentence"][:blank] + option for option in (row["option1"], row["option2"])]


task = HarnessTask(
    text=lambda row: {"1": 0, "2": 1}[row["answer"]],  # doc_to_text: the gold option's index
    choices=options,
    target=lambda row: row["sentence"][row["sentence"].index("_") + 1:].strip(),  # doc_to_target
    multiple_input=True,
    fewshot=FewShot(HubDataset("allenai/winogrande", name="winogrande_xl", split="train"), shots=5,
                    draw_extra=True),
)

suite = Suite(
    name="winogrande",
    data=HubDataset("allenai/winogrande", name="winogrande_xl", split="validation"),
    harness=task,
    required_fields=("sentence", "option1", "option2", "answer"),
    primary_metric="acc",
    metrics=(acc_metrics,),
)


def test_winogrande(sample, response, verdict):
    verdict(**multiple_choice_verdict(task, sample, response))
