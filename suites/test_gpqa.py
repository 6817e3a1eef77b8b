"""GPQA-Diamond: 198 graduate-level science questions with four options, answer as "Answer: X".

Data: Idavidrein/gpqa, config gpqa_diamond (gated: accept its terms on the hub and export HF_TOKEN).
Prompt: NeMo Skills `eval/aai/mcq-4choices`, the `++prompt_config` of the published `ns_gpqa` task (and
NeMo Skills' default for gpqa); options cleaned and laid out as NeMo Skills' dataset/gpqa/prepare.py, and in
its order: `random.seed(42)` once, then `random.shuffle` of [incorrect 1, 2, 3, correct] row after row in
file order. That stream is computed over the whole file (Suite.prepare), so --limit-samples keeps each
question's reference letters. Extraction: NeMo Skills' multichoice evaluator (evaluator/mcq.py, relaxed).
"""

import random

from pytest_nemoeval import HubDataset, Suite, extract_choice_letter

SEED = 42  # prepare.py --random_seed
INSTRUCTION = (  # eval/aai/mcq-4choices.yaml, `user`
    "Answer the following multiple choice question. The last line of your response should be in the following "
    "format: 'Answer: A/B/C/D' (e.g. 'Answer: A').\n\n"
)


def clean(text):
    """prepare.py's preprocess (after lm-evaluation-harness)."""
    if text is None:
        return " "
    return text.strip().replace(" [title]", ". ").replace("  ", " ")


def shuffle_options(rows):
    """prepare.py's format_entry over the file: one seeded stream, one shuffle per row, in file order."""
    stream = random.Random(SEED)
    for row in rows:
        choices = [clean(row[f"Incorrect Answer {n}"]) for n in (1, 2, 3)] + [clean(row["Correct Answer"])]
        stream.shuffle(choices)
        yield {**row, "options": choices, "expected": "ABCD"[choices.index(clean(row["Correct Answer"]))]}


def prompt(row):
    lines = "\n".join(f"{letter}) {choice}" for letter, choice in zip("ABCD", row["options"]))
    return f"{INSTRUCTION}{row['Question'].strip(chr(10))}\n\n{lines}"


REVISION = "90b8e5be2b1d3d2dbfe016cdab47981150600c4a"  # the pin of HELM (gpqa_scenario.py)

suite = Suite(
    name="gpqa",
    data=HubDataset("Idavidrein/gpqa", name="gpqa_diamond", split="train", revision=REVISION),
    required_fields=("Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3"),
    prepare=shuffle_options,
    prompt=prompt,
    generation={"temperature": 0.6, "top_p": 0.95, "max_new_tokens": 32768},  # sampled: 8 distinct repeats
    repeats=8,
    primary_metric="pass@1",
    category_field="High-level domain",
    id_field="Record ID",
)


def test_gpqa(sample, response, verdict):
    answer = extract_choice_letter(response.text)
    verdict(answer == sample["expected"], answer=answer, expected=sample["expected"],
            domain=sample.get("High-level domain"))
