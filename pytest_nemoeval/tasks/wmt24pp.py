"""WMT24++ as NeMo Skills scores it: corpus BLEU per language pair and their mean, optionally xCOMET.

Sources (NeMo Skills, upstream at 2026-04-10 via the Belaleatsbanana/Skills fork; the published Super task ran
the nemo-skills 26.02/26.03 container): dataset/wmt24pp/prepare.py (target languages, language names),
evaluation/metrics/translation_metrics.py (BLEU, COMET aggregation), evaluation/evaluator/comet.py (xCOMET).
"""

from __future__ import annotations

import threading
from statistics import mean
from typing import Any

from pytest_nemoeval.data import HubConfigs
from pytest_nemoeval.errors import DataError
from pytest_nemoeval.metrics import SampleOutcome

DEFAULT_LANGUAGES = ["de_DE", "es_MX", "fr_FR", "it_IT", "ja_JP"]  # prepare.py --target_languages default
HUB_PATH = "google/wmt24pp"
COMET_MODEL = "Unbabel/XCOMET-XXL"  # the checkpoint the published ns_wmt24pp_comet task names
# prepare.py's target_lang_name: langcodes' Language(code[:2]).display_name() (langcodes 3.5), for the codes of
# google/wmt24pp's pairs; fil_PH is "Finnish" there too (its first two letters)
NAMES = {"ar": "Arabic", "bg": "Bulgarian", "bn": "Bangla", "ca": "Catalan", "cs": "Czech", "da": "Danish",
         "de": "German", "el": "Greek", "es": "Spanish", "et": "Estonian", "fa": "Persian", "fi": "Finnish",
         "fr": "French", "gu": "Gujarati", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian",
         "id": "Indonesian", "is": "Icelandic", "it": "Italian", "ja": "Japanese", "kn": "Kannada", "ko": "Korean",
         "lt": "Lithuanian", "lv": "Latvian", "ml": "Malayalam", "mr": "Marathi", "nl": "Dutch", "no": "Norwegian",
         "pa": "Punjabi", "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sk": "Slovak",
         "sl": "Slovenian", "sr": "Serbian", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil", "te": "Telugu",
         "th": "Thai", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu", "vi": "Vietnamese", "zh": "Chinese",
         "zu": "Zulu"}
# prompt/config/multilingual/segment-translation.yaml, `user`
PROMPT = "Translate the following segment into {target_lang_name}, without additional explanation.\n\n{text}"


def chosen_languages(options: dict[str, Any]) -> list[str]:
    """The data option `languages` as a list (one code may be given as a string)."""
    value = options["languages"]
    return [value] if isinstance(value, str) else list(value)


def languages(options: dict[str, Any]) -> list[str]:
    """The target languages asked for, checked (and Korean's tokenizer installed): else one DataError line."""
    chosen = chosen_languages(options)
    unknown = [code for code in chosen if code[:2] not in NAMES or len(code) < 4 or code[2] != "_"]
    if unknown or not chosen:
        raise DataError(f"unknown target language {', '.join(map(repr, unknown)) or '(none given)'} "
                        f"(expected a google/wmt24pp code such as de_DE or ja_JP, language one of "
                        f"{', '.join(sorted(NAMES))})")
    if any(code.startswith("ko") for code in chosen):
        from pytest_nemoeval.suite import installed

        if not installed("mecab_ko"):
            raise DataError("Korean is scored with sacrebleu's ko-mecab tokenizer: pip install 'sacrebleu[ko]'")
    return chosen


def source(options: dict[str, Any]) -> HubConfigs:
    """en->xx for each target language asked for, one config after another (prepare.py's file order); a
    `comet` option asked for without its package is refused here, before anything is sent."""
    comet_model(options)
    return HubConfigs(HUB_PATH, tuple(f"en-{code}" for code in languages(options)), split="train")


def in_languages(row: dict[str, Any], options: dict[str, Any]) -> bool:
    return row["lp"].removeprefix("en-") in chosen_languages(options)  # checked once, by `source`


def comet_model(options: dict[str, Any]) -> str | None:
    """The xCOMET checkpoint the `comet` data option asks for (true: XCOMET-XXL; a hub name or a .ckpt path),
    or None; asked for without unbabel-comet installed, one line saying what to install."""
    value = options.get("comet")
    if not value:
        return None
    from pytest_nemoeval.suite import installed

    if not installed("comet"):
        raise DataError("data option comet needs unbabel-comet (and the model's download, "
                        f"{COMET_MODEL} is gated on the HF hub): pip install 'pytest-nemoeval[comet]'")
    return COMET_MODEL if value is True else str(value)


def prompt(row: dict[str, Any]) -> str:
    target = row["lp"].removeprefix("en-")
    return PROMPT.format(target_lang_name=NAMES[target[:2]], text=row["source"])


def tokenizer(target: str) -> str:
    """translation_metrics.py's sacrebleu tokenizer for a target language."""
    return {"ja": "ja-mecab", "zh": "zh", "ko": "ko-mecab"}.get(target[:2], "13a")


_COMET_LOCK = threading.Lock()
_COMET: dict[str, Any] = {}


def comet_score(model_name: str, source_text: str, translation: str) -> float:
    """xCOMET of one segment, as evaluator/comet.py computes it: the model is given `src` and `mt` only (the
    reference goes in as "gt", a key COMET does not read, so the score is xCOMET's reference-free one)."""
    with _COMET_LOCK:  # one model per engine process, one prediction at a time
        if model_name not in _COMET:
            import comet
            import torch

            path = model_name if model_name.endswith(".ckpt") else comet.download_model(model_name)
            _COMET[model_name] = (comet.load_from_checkpoint(path), 1 if torch.cuda.is_available() else 0)
        model, gpus = _COMET[model_name]
        return float(model.predict([{"src": source_text, "mt": translation}], batch_size=1, gpus=gpus,
                                   progress_bar=False).scores[0])


def failed_inputs(row: dict[str, Any]) -> dict[str, Any]:
    """A failed generation is an empty translation (translation_metrics.py turns a None generation into "")."""
    return {"pair": row["lp"], "hypothesis": "", "reference": row["target"], "comet": None}


def translation_metrics(outcomes: list[SampleOutcome], repeats: int) -> dict[str, Any]:
    """translation_metrics.py: per pair and repeat, corpus BLEU over the pair's segments (COMET: the mean of the
    segment scores); a pair's score is the mean over repeats; `bleu`/`comet` is the mean over the pairs (its
    en->xx and xx->xx, one source language), `bleu_<target>` each pair's. Fractions in [0, 1], as every metric
    here: the reference's BLEU and COMET x 100 are these x 100."""
    import sacrebleu

    by_pair: dict[str, list[list[dict[str, Any]]]] = {}
    for outcome in outcomes:
        for repeat, inputs in enumerate(outcome.inputs):
            if inputs:
                by_pair.setdefault(inputs["pair"], [[] for _ in range(repeats)])[repeat].append(inputs)
    metrics: dict[str, Any] = {}
    for name in ("bleu", "comet"):
        pairs: dict[str, float] = {}
        for pair, runs in by_pair.items():
            target = pair.removeprefix("en-")
            scores = []
            for run in runs:
                if name == "bleu":
                    scores.append(sacrebleu.corpus_bleu([item["hypothesis"] for item in run],
                                                        [[item["reference"] for item in run]],
                                                        tokenize=tokenizer(target)).score / 100)
                elif run and all(item["comet"] is not None for item in run):
                    scores.append(mean(item["comet"] for item in run))
            if scores and len(scores) == len(runs):
                pairs[target] = mean(scores)
        if pairs:
            metrics[name] = {"value": mean(pairs.values()), "pairs": len(pairs), "samples": len(outcomes)}
            metrics.update({f"{name}_{target}": {"value": value} for target, value in pairs.items()})
    return metrics
