"""WMT24++: English to other languages, one segment per request, scored by corpus BLEU per language pair.

As the published Nemotron 3 Super evaluation runs it (NeMo Evaluator task ns_wmt24pp_comet; ns_wmt24pp without
COMET): NeMo Skills `ns prepare_data wmt24pp` with its defaults, then `ns eval`, one repeat. Data: google/wmt24pp,
en->de_DE, es_MX, fr_FR, it_IT, ja_JP (prepare.py's default), all segments (is_bad_source ones too); a recipe
picks others with `benchmarks.wmt24pp.data: {languages: [...]}`. Prompt: NeMo Skills
multilingual/segment-translation (the target language's English name, then the segment). Metric: sacrebleu's
corpus BLEU over each pair's segments (ja-mecab for Japanese, zh for Chinese, ko-mecab for Korean, else 13a),
`bleu` the mean over the pairs (NeMo Skills' en->xx, not over segments). `comet: true` (or a checkpoint) adds
xCOMET-XXL as the published ns_wmt24pp_comet computes it (pytest_nemoeval/tasks/wmt24pp.py; needs the `comet`
extra and the model). `-k "wmt24pp and ja_JP"` runs one pair.
"""

import asyncio

from pytest_nemoeval import Response, Suite
from pytest_nemoeval.tasks.wmt24pp import (DEFAULT_LANGUAGES, comet_model, comet_score, failed_inputs, in_languages,
                                           prompt, source, translation_metrics)


def options_of(settings):
    data = ((settings.get("benchmarks") or {}).get("wmt24pp") or {}).get("data") or {}
    return {"comet": False, **data}


async def translate(sample, chat):
    reply = await chat(chat.messages)
    model = comet_model(options_of(chat.settings))
    if model is None:
        return reply
    translation = Response.from_body(reply).text
    score = await asyncio.to_thread(comet_score, model, sample["source"], translation)
    return {**reply, "comet": score}


suite = Suite(
    name="wmt24pp",
    data=source,
    data_options={"languages": DEFAULT_LANGUAGES, "comet": False},
    keep=in_languages,
    required_fields=("lp", "source", "target"),
    prompt=prompt,
    # the published Nemotron 3 Super settings (temperature 1.0, top_p 0.95, 131072 new tokens)
    generation={"temperature": 1.0, "top_p": 0.95, "max_new_tokens": 131072},
    repeats=1,
    primary_metric="bleu",
    item_label=lambda row: row["lp"].removeprefix("en-"),
    driver=translate,
    failed_inputs=failed_inputs,
    metrics=[translation_metrics],
    requires={"sacrebleu": "pytest-nemoeval[translation]", "MeCab": "pytest-nemoeval[translation]"},
)


def test_wmt24pp(sample, response, verdict):
    translation = response.text
    # "correct": a translation came back (BLEU, not this, scores it)
    verdict(bool(translation), answer=translation or None, expected=sample["target"],
            metric_inputs={"pair": sample["lp"], "hypothesis": translation, "reference": sample["target"],
                           "comet": response.body.get("comet")})
