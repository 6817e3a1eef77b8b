"""ARC-Challenge as NeMo Evaluator's `adlr_arc_challenge_llama_25_shot` runs it: 1,172 test questions, 25-shot,
the answer letter scored by log-likelihood.

Task: `adlr_arc_challenge_llama` of NVIDIA's nvidia-lm-eval 26.3 (lm_eval/tasks/custom/adlr_arc, utils.py
doc_to_text_llama / doc_to_choice_llama / doc_to_target_llama) with --num_fewshot 25: "Question: ...",
the options as "\\nA. ...", then "\\nAnswer:"; the choices are the letters, the few-shot examples are drawn
from train with the default sampler (no fewshot_split). Numeric answer keys "1".."5" map to letters. The
letters are one character each, so acc_norm equals acc.
"""

from pytest_nemoeval import HubDataset, Suite
from pytest_nemoeval.harness import FewShot, HarnessTask, acc_metrics, multiple_choice_verdict

LETTERS = ["A", "B", "C", "D", "E"]
NUMERIC_KEYS = {"1": "A", "2": "B", "3": "C", "4": "D", "5": "E"}


def text(row):
    """doc_to_text_llama."""
    options = "".join(f"\n{LETTERS[index]}. {choice}" for index, choice in enumerate(row["choices"]["text"]))
    return f"Question: {row['question']}{options}\nAnswer:"


task = HarnessTask(
    text=text,
    choices=lambda row: LETTERS[:len(row["choices"]["text"])],
    target=lambda row: LETTERS.index(NUMERIC_KEYS.get(row["answerKey"], row["answerKey"])),
    fewshot=FewShot(HubDataset("allenai/ai2_arc", name="ARC-Challenge", split="train"), shots=25),
)

suite = Suite(
    name="arc_challenge",
    data=HubDataset("allenai/ai2_arc", name="ARC-Challenge", split="test"),
    harness=task,
    required_fields=("id", "question", "choices", "answerKey"),
    primary_metric="acc_norm",  # the published table's (equal to acc here)
    id_field="id",
    metrics=(acc_metrics,),
)


def test_arc_challenge(sample, response, verdict):
    verdict(**multiple_choice_verdict(task, sample, response))
