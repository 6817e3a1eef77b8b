"""GPQA-Diamond: 198 graduate-level science questions with four options, answer in \\boxed{}.

Data: Idavidrein/gpqa, config gpqa_diamond (gated: accept its terms on the hub and export HF_TOKEN).
Prompt: NeMo Skills `eval/aai/mcq-4choices-boxed`; options cleaned and laid out as NeMo Skills'
dataset/gpqa/prepare.py. Their order is shuffled with a seed made from the question text, so it is the same
on every run and machine and does not depend on which rows are selected (prepare.py draws one seeded stream
over the whole file instead). Extraction: NeMo Skills' multichoice evaluator, as for MMLU-Pro.
"""

import random

from pytest_nemoeval import HubDataset, Suite, extract_choice_letter

SEED = 42
INSTRUCTION = (
    "Answer the following multiple choice question. The last line of your response should be in the following "
    "format: 'Answer: \\boxed{A/B/C/D}' (e.g. 'Answer: \\boxed{A}').\n\n"
)


def clean(text):
    """prepare.py's preprocess (after lm-evaluation-harness)."""
    if text is None:
        return " "
    return text.strip().replace(" [title]", ". ").replace("  ", " ")


def options(row):
    """The four options in their shuffled order, and the letter of the correct one."""
    correct = clean(row["Correct Answer"])
    choices = [clean(row[f"Incorrect Answer {n}"]) for n in (1, 2, 3)] + [correct]
    random.Random(f"{SEED}:{row['Question']}").shuffle(choices)
    return choices, "ABCD"[choices.index(correct)]


def prompt(row):
    choices, _ = options(row)
    lines = "\n".join(f"{letter}) {choice}" for letter, choice in zip("ABCD", choices))
    return f"{INSTRUCTION}{row['Question'].strip(chr(10))}\n\n{lines}"


suite = Suite(
    name="gpqa",
    data=HubDataset("Idavidrein/gpqa", name="gpqa_diamond", split="train"),
    required_fields=("Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3"),
    prompt=prompt,
    generation={"temperature": 0.6, "top_p": 0.95, "max_new_tokens": 32768},  # sampled: 8 distinct repeats
    repeats=8,
    primary_metric="pass@1",
    id_field="Record ID",
)


def test_gpqa(sample, response, verdict):
    _, expected = options(sample)
    answer = extract_choice_letter(response.text)
    verdict(answer == expected, answer=answer, expected=expected, domain=sample.get("High-level domain"))
