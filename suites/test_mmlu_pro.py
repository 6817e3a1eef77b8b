"""MMLU-Pro: 12,032 questions with up to 10 options (A-J), zero-shot, answer in \\boxed{}.

Prompt: NeMo Skills `eval/aai/mcq-10choices-boxed` (after Artificial Analysis), the prompt of the
published `ns_mmlu_pro` task; question and options laid out as NeMo Skills' `get_mcq_fields`.
Extraction: NeMo Skills' multichoice evaluator (last \\boxed{X}, else the last "Answer: X").
"""

from pytest_nemoeval import HubDataset, Suite, extract_choice_letter

LETTERS = "ABCDEFGHIJ"
INSTRUCTION = (
    "Answer the following multiple choice question. The last line of your response should be in the following "
    "format: 'Answer: \\boxed{A/B/C/D/E/F/G/H/I/J}' (e.g. 'Answer: \\boxed{A}').\n\n"
)


def prompt(row):
    options = "\n".join(f"{LETTERS[i]}) {option}" for i, option in enumerate(row["options"]))
    return f"{INSTRUCTION}{row['question'].strip(chr(10))}\n\n{options}"


REVISION = "3373e0b32277875b8db2aa555a333b78a08477ea"  # the pin of lighteval (mmlu_pro.py) and HELM (3373e0b)

suite = Suite(
    name="mmlu_pro",
    data=HubDataset("TIGER-Lab/MMLU-Pro", split="test", revision=REVISION),
    required_fields=("question_id", "question", "options", "answer", "category"),
    prompt=prompt,
    generation={"temperature": 0.0, "max_new_tokens": 4096},
    repeats=1,
    primary_metric="accuracy",
    id_field="question_id",
    category_field="category",
)


def test_mmlu_pro(sample, response, verdict):
    answer = extract_choice_letter(response.text)
    verdict(answer == sample["answer"], answer=answer, expected=sample["answer"], category=sample["category"])
