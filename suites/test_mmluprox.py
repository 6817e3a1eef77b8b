"""MMLU-ProX: MMLU-Pro translated into 29 languages, 10 options (A-J); the published ns_mmlu_prox languages.

As the published Nemotron 3 Super evaluation runs it (NeMo Evaluator task ns_mmlu_prox, num_repeats 1: NeMo Skills
`ns prepare_data mmlu-prox` with its defaults, then `ns eval`). Data: li-lab/MMLU-ProX, split test, the languages
of prepare.py's default (en, de, es, fr, it, ja), one config after another; a recipe picks others with
`benchmarks.mmluprox.data: {languages: [...]}`. Prompt: prepare.py's `question`, sent whole as the user message
(prompt config generic/default): the language's instruction naming the subject and the closing sentence, the
question, the ten options (pytest_nemoeval/tasks/mmlu_prox). Extraction: NeMo Skills' multichoice evaluator with
the row's language regex (e.g. "Die Antwort ist (X)"), else the last \\boxed{}, else the last "Answer: X".
Metrics: accuracy over every sample (NeMo Skills' `_all_`: the mean over samples, not over languages) and each
language's in the per-category breakdown (its `subset_for_metrics`). `-k "mmluprox and -de-"` runs one language.
"""

from pytest_nemoeval import Suite, extract_choice_letter_by
from pytest_nemoeval.tasks.mmlu_prox import DEFAULT_LANGUAGES, answer_regex, in_languages, prompt, source

suite = Suite(
    name="mmluprox",
    data=source,
    data_options={"languages": DEFAULT_LANGUAGES},
    keep=in_languages,
    required_fields=("question", *(f"option_{i}" for i in range(10)), "answer", "category",
                     "language"),
    prompt=prompt,
    # the published Nemotron 3 Super settings (temperature 1.0, top_p 0.95, 131072 new tokens)
    generation={"temperature": 1.0, "top_p": 0.95, "max_new_tokens": 131072},
    repeats=1,
    primary_metric="accuracy",
    category_field="language",
    item_label=lambda row: row["language"],
)


def test_mmluprox(sample, response, verdict):
    answer = extract_choice_letter_by(response.text, answer_regex(sample["language"]))
    verdict(answer == sample["answer"], answer=answer, expected=sample["answer"], language=sample["language"])
