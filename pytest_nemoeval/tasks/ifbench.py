"""IFBench grading with the official instruction registry (`if-verifiable`), offline, and its four metrics.

`if-verifiable` 0.1.2 carries allenai/IFBench's checkers as of 1a902f9-e44f1c7 (Nov-Dec 2025, around the model
card's evaluation; NeMo Skills' image clones IFBench's head when built), guarded where upstream crashed.

Verdicts follow IFBench's `evaluation_lib.py` (allenai/IFBench; NeMo Skills `eval_ifbench` runs it):
strict checks the response as is, loose also tries it without its first and/or last line and without
`*`; an empty response follows nothing. Metrics follow NeMo Skills `IFMetrics` (pass@1 averaged over repeats):
prompt-level = all instructions followed, instruction-level = followed instructions / instructions.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import io
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from pytest_nemoeval.metrics import SampleOutcome, ratio_summary, summarize

# NLTK data the checkers use; none may be fetched at run time (if-verifiable downloads missing ones at import)
NLTK_RESOURCES = ("punkt_tab", "stopwords", "averaged_perceptron_tagger_eng")
# llama-index-core ships punkt_tab and stopwords; found without importing it
PACKAGED_NLTK_DATA = ("llama_index.core", "_static/nltk_cache")
# no installed package ships the tagger words:start_verb needs: fetched once into NLTK_CACHE, before any request
TAGGER = "averaged_perceptron_tagger_eng"
NEEDS_TAGGER = frozenset({"words:start_verb"})


def nltk_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pytest-nemoeval" / "nltk_data"


class UngradableInstruction(Exception):
    """An instruction that cannot be checked here: unknown to the registry, or its NLTK data is absent."""


def _packaged_nltk_data() -> str | None:
    """A private copy of the English NLTK data llama-index-core ships: NLTK refuses hard-linked data files,
    and uv installs packages as hard links."""
    package, relative = PACKAGED_NLTK_DATA
    try:
        spec = importlib.util.find_spec(package)
    except ModuleNotFoundError:
        return None
    roots = [Path(location) / relative for location in (spec.submodule_search_locations or [])] if spec else []
    source = next((root for root in roots if root.is_dir()), None)
    if source is None:
        return None
    target = Path(tempfile.mkdtemp(prefix="nemoeval-nltk-"))
    atexit.register(shutil.rmtree, target, True)
    for part in ("tokenizers/punkt_tab/english", "corpora/stopwords/english"):
        if (source / part).exists():
            copy = shutil.copytree if (source / part).is_dir() else shutil.copyfile
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            copy(source / part, target / part)
    return str(target)


def _refuse_download(name: str = "", *args: Any, **kwargs: Any) -> bool:
    return False


@lru_cache(maxsize=1)
def registry() -> dict[str, Any]:
    """The official IFBench instruction registry, imported once, with the packaged NLTK data on NLTK's path
    and downloads refused."""
    import nltk

    packaged = _packaged_nltk_data()
    if packaged:
        nltk.data.path.append(packaged)
    if str(nltk_cache()) not in nltk.data.path:
        nltk.data.path.append(str(nltk_cache()))
    download, nltk.download = nltk.download, _refuse_download
    try:
        from if_verifiable.ifbench.instructions_registry import INSTRUCTION_DICT
    finally:
        nltk.download = download
    return INSTRUCTION_DICT


@lru_cache(maxsize=1)
def tagger_missing() -> str | None:
    """None when NLTK's tagger is there (fetched once into nltk_cache() if need be), else why it is not."""
    import nltk

    registry()  # NLTK's path, with the cache on it
    try:
        nltk.data.find(f"taggers/{TAGGER}")
        return None
    except LookupError:
        pass
    cache = nltk_cache()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            fetched = nltk.download(TAGGER, download_dir=str(cache), quiet=True, raise_on_error=False)
    except Exception:  # whatever a failed download raises, the answer is the same: not here
        fetched = False
    if fetched:
        try:
            nltk.data.find(f"taggers/{TAGGER}")
            return None
        except LookupError:
            pass
    return (f"needs NLTK's {TAGGER}, which is not installed and could not be fetched (offline?): "
            f"python -m nltk.downloader -d {cache} {TAGGER}")


def skip_reason(row: dict[str, Any]) -> str | None:
    """Why the row's items cannot be graded here (its instructions' NLTK data is missing), or None."""
    needing = [instruction for instruction in row["instruction_id_list"] if instruction in NEEDS_TAGGER]
    missing = tagger_missing() if needing else None
    return f"{needing[0]} {missing}" if missing else None


def _missing_nltk_resource(instruction_id: str, error: LookupError) -> UngradableInstruction:
    name = next((name for name in NLTK_RESOURCES if name in str(error)), "an NLTK resource")
    return UngradableInstruction(f"{instruction_id} needs NLTK's {name}, which no installed package provides; "
                                 f"put it in an NLTK_DATA directory (python -m nltk.downloader -d DIR {name})")


def _checker(instruction_id: str, kwargs: dict[str, Any] | None, prompt: str) -> Any:
    instructions = registry()
    if instruction_id not in instructions:
        raise UngradableInstruction(f"unknown IFBench instruction {instruction_id!r} (not in if-verifiable's "
                                    "registry)")
    checker = instructions[instruction_id](instruction_id)
    checker.build_description(**{key: value for key, value in (kwargs or {}).items() if value is not None})
    arguments = checker.get_instruction_args()
    if arguments and "prompt" in arguments:
        checker.build_description(prompt=prompt)
    return checker


def loose_variants(response: str) -> list[str]:
    """The response, without `*`, without its first and/or last line (IFBench's loose evaluation)."""
    lines = response.split("\n")
    trimmed = ["\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(), "\n".join(lines[1:-1]).strip()]
    return [response, response.replace("*", ""), *trimmed, *(text.replace("*", "") for text in trimmed)]


def follows(response: str, row: dict[str, Any]) -> tuple[list[bool], list[bool]]:
    """Per instruction of the row: (strict, loose) verdicts of the official checkers."""
    strict: list[bool] = []
    loose: list[bool] = []
    variants = loose_variants(response)
    for index, instruction_id in enumerate(row["instruction_id_list"]):
        checker = _checker(instruction_id, row["kwargs"][index], row["prompt"])
        try:
            followed = bool(response.strip() and checker.check_following(response))  # variants[0] is the response
            strict.append(followed)
            loose.append(followed or any(text.strip() and checker.check_following(text) for text in variants[1:]))
        except LookupError as error:
            raise _missing_nltk_resource(instruction_id, error) from None
    return strict, loose


def failed_inputs(row: dict[str, Any]) -> dict[str, Any]:
    """The suite's `Suite(failed_inputs=...)`: an item that errored followed none of its row's instructions."""
    unfollowed = [False] * len(row["instruction_id_list"])
    return {"strict": unfollowed, "loose": list(unfollowed)}


def metrics(outcomes: list[SampleOutcome], repeats: int) -> dict[str, Any]:
    """NeMo Skills IFMetrics: prompt-level and instruction-level accuracy, strict and loose, over every sample.

    A repeat that errored followed nothing: its instructions (counted from its row by `failed_inputs`, else
    from another repeat) count as not followed; when its count is unknown, only its prompt counts (as failed)."""
    metrics: dict[str, Any] = {}
    for mode in ("strict", "loose"):
        prompts, followed, instructions = [], [], []
        for outcome in outcomes:
            runs = [inputs[mode] if inputs else None for inputs in outcome.inputs]
            count = next((len(run) for run in runs if run is not None), None)
            runs = [None if outcome.errored(repeat) else run for repeat, run in enumerate(runs)]
            prompts.append(sum(run is not None and all(run) for run in runs) / len(runs))
            if count is not None:
                followed.append(sum(sum(run) for run in runs if run is not None) / len(runs))
                instructions.append(count)
        metrics[f"prompt_{mode}"] = summarize(prompts)
        metrics[f"instruction_{mode}"] = ratio_summary(followed, instructions)
    return metrics
