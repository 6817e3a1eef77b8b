"""MMLU-ProX as NeMo Skills prepares it: each language's prompt and answer regex (dataset/mmlu-prox/prepare.py).

The prompt parts and subject names are lm-evaluation-harness's lm_eval/tasks/mmlu_prox/lang_libs.py (LANG_LIBS
entries 0, 1, 3 and 5, LANG_SUBJECTS), which prepare.py downloads from the harness's main branch; lang_libs.json
holds them for the 29 languages, taken at lm-evaluation-harness 4e7e0d47 (the file last changed in 0b45cc71a,
2025-08-26, before the published task existed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytest_nemoeval.data import HubConfigs
from pytest_nemoeval.errors import DataError

LANG_LIBS: dict[str, dict[str, Any]] = json.loads((Path(__file__).parent / "lang_libs.json").read_text("utf-8"))
DEFAULT_LANGUAGES = ["en", "de", "es", "fr", "it", "ja"]  # prepare.py --languages default
LETTERS = "ABCDEFGHIJ"
HUB_PATH = "li-lab/MMLU-ProX"


def chosen(options: dict[str, Any]) -> list[str]:
    """The data option `languages` as a list (one language may be given as a string)."""
    value = options["languages"]
    return [value] if isinstance(value, str) else list(value)


def languages(options: dict[str, Any]) -> list[str]:
    """The languages asked for, checked: an unknown one is one DataError line."""
    languages = chosen(options)
    unknown = [language for language in languages if language not in LANG_LIBS]
    if unknown or not languages:
        raise DataError(f"unknown language {', '.join(map(repr, unknown)) or '(none given)'} "
                        f"(known: {', '.join(sorted(LANG_LIBS))})")
    return languages


def source(options: dict[str, Any]) -> HubConfigs:
    """The languages asked for (data option `languages`), one hub config each, in that order, as prepare.py
    writes them one after another; each row tagged with its `language`."""
    return HubConfigs(HUB_PATH, tuple(languages(options)), split="test", tag="language")


def in_languages(row: dict[str, Any], options: dict[str, Any]) -> bool:
    """A --data-dir row is kept when its language was asked for (the hub rows are loaded per language); the
    languages were checked once, by `source`, before any row."""
    return row["language"] in chosen(options)


def prompt(row: dict[str, Any]) -> str:
    """prepare.py's `question` field, sent whole as the user message (prompt config generic/default,
    `user: "{question}"`): the instruction line, the question, every one of the ten options, a final newline."""
    lib = LANG_LIBS[row["language"]]
    subject = lib["subjects"][row["category"].replace(" ", "_")]
    description = lib["instruction"].format(subject=subject, ans_suffix=lib["answer_format"].format("X")) + "\n"
    # all ten option_i, as prepare.py lists them (an absent one reads "None")
    options = "\n".join(f"{letter}. {row[f'option_{i}']}" for i, letter in enumerate(LETTERS))
    return f"{description}{lib['question']}\n{row['question']}\n{lib['options']}\n{options}\n"


def answer_regex(language: str) -> str:
    """prepare.py's extract_regex: the language's answer sentence with its letter as the group; for English
    without the leading "the" and with optional ** around the letter."""
    regex = LANG_LIBS[language]["answer_format"].replace("({})", r"\(?([ABCDEFGHIJ])\)?")
    if language == "en":
        regex = regex.lstrip("the").strip()
        regex = regex.replace("\\(", "\\**\\(").replace("\\)?", "\\)?\\**")
    return regex
