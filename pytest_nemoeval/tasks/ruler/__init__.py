"""RULER as NVIDIA packages it (`nvidia-long-context-eval` 26.3, `long_context_eval`): its 13 synthetic tasks
(`synthetic.yaml`), templates and answer prefixes (`data/synthetic/constants.py`, the "base" model template as
its chat mode sends it), generator scripts with their seeds and haystacks (`data/synthetic/*.py`: Paul Graham
essays, SQuAD and HotpotQA ship in the package), and scorers (`eval/synthetic/constants.py`
string_match_all / string_match_part, after `eval/evaluate.py` postprocess_pred).

The package's generators are scripts that parse their arguments at import and call `select_tokenizer`; they are
imported here with the arguments its `data/prepare.py` passes and with the served model's own tokenizer (its
/tokenize endpoint), so a "128K" prompt is 128K tokens of that model. Generated samples are cached on disk
(one JSON line each), keyed by task, length, samples, seed, package version and the tokenizer's fingerprint,
and read back one row at a time: a rerun does not rebuild a 1M-token haystack, and no run holds every prompt.
The essay tasks split sentences with NLTK's punkt_tab: found where llama-index-core ships it, else fetched
once into the cache; every other task needs nothing downloaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import sys
import types
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from pytest_nemoeval.data import Rows
from pytest_nemoeval.errors import DataError

PACKAGE = "nvidia-long-context-eval"
MODULE = "long_context_eval"  # its import name
TASKS = ("niah_single_1", "niah_single_2", "niah_single_3", "niah_multikey_1", "niah_multikey_2", "niah_multikey_3",
         "niah_multivalue", "niah_multiquery", "vt", "cwe", "fwe", "qa_1", "qa_2")
ESSAY = frozenset({"niah_single_2", "niah_single_3", "niah_multikey_1", "niah_multivalue", "niah_multiquery"})
# vt puts a 500-token example in every prompt; qa's documents come 10 at a time
MIN_LENGTH = {"qa_1": 4096, "qa_2": 4096}
SEED = 42  # prepare.py: random_seed = 42 + chunk_idx, one chunk


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pytest-nemoeval" / "ruler"


def length_label(tokens: int) -> str:
    """262144 -> "256k", 1048576 -> "1m" (metric names)."""
    if tokens % (1 << 20) == 0:
        return f"{tokens >> 20}m"
    return f"{tokens >> 10}k" if tokens % 1024 == 0 else str(tokens)


def curve_point(metric: str) -> tuple[str, int] | None:
    """`vt_4k` -> ("vt", 4096), `score_1m` -> ("score", 1048576): the metrics() names that are points of the
    score-by-length curve (the inverse of length_label); None for the others."""
    line, _, label = metric.rpartition("_")
    if line not in TASKS and line != "score":
        return None
    scale = {"k": 1 << 10, "m": 1 << 20}.get(label[-1:], 1)
    number = label[:-1] if scale > 1 else label
    return (line, int(number) * scale) if number.isdigit() else None


class ServerTokenizer:
    """RULER's tokenizer interface (`text_to_tokens`), answered by the served model's /tokenize (vLLM or llama.cpp)."""

    def __init__(self, base_url: str, model: str) -> None:
        self.root = base_url.removesuffix("/v1")
        self.model = model
        self.server = "llama.cpp" if self._get("/props") is not None else "vllm"
        self.requests = 0

    def _get(self, path: str) -> Any:
        try:
            with urllib.request.urlopen(self.root + path, timeout=30) as response:
                body = json.loads(response.read())
        except (OSError, ValueError):
            return None
        return body if isinstance(body, dict) and "default_generation_settings" in body else None

    def text_to_tokens(self, text: str) -> list[int]:
        payload = ({"content": text, "add_special": False} if self.server == "llama.cpp"
                   else {"model": self.model, "prompt": text, "add_special_tokens": False})
        request = urllib.request.Request(f"{self.root}/tokenize", json.dumps(payload).encode(),
                                         {"Content-Type": "application/json"})
        self.requests += 1
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                tokens = json.loads(response.read()).get("tokens")
        except (OSError, ValueError) as exc:
            raise DataError(f"RULER counts tokens with the served model's {self.root}/tokenize, which failed: "
                            f"{exc}") from None
        if not isinstance(tokens, list):
            raise DataError(f"{self.root}/tokenize returned no tokens: RULER needs a vLLM or llama.cpp server")
        return tokens

    def fingerprint(self) -> str:
        """Which tokenizer this is: the model's name and its ids for a fixed text."""
        probe = "RULER tokenizer fingerprint: The grass is green. 1234567 magic-number, 2f0a-uuid."
        return hashlib.sha256(json.dumps([self.model, self.text_to_tokens(probe)]).encode()).hexdigest()[:16]


class LinesOnDisk(Sequence[bytes]):
    """The lines of cached files, read one at a time by offset (Rows' encoded rows, kept on disk)."""

    def __init__(self) -> None:
        self._index: list[tuple[Path, int]] = []

    def add(self, path: Path, limit: int | None) -> None:
        with open(path, "rb") as handle:
            offset = 0
            for line in handle:
                if limit is not None and len(self._index) >= limit:
                    return
                if line.strip():
                    self._index.append((path, offset))
                offset += len(line)

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, index: int) -> bytes:  # type: ignore[override]
        path, offset = self._index[index]
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.readline().strip()


@dataclass(frozen=True)
class RulerPrompts:
    """The RULER samples of some tasks at some lengths (a DataSource), generated with the served model's tokenizer."""

    tasks: tuple[str, ...]
    lengths: tuple[int, ...]
    samples: int
    template_tokens: int = 50  # NeMo Skills' ruler/prepare.py --template_tokens: room left for the chat template
    tokenizer: ServerTokenizer | None = field(default=None, compare=False)

    def describe(self) -> str:
        lengths = ", ".join(length_label(length) for length in self.lengths)
        return f"RULER ({PACKAGE} {_version()}: {len(self.tasks)} tasks at {lengths}, {self.samples} samples each)"

    def load(self, limit: int | None) -> Rows:
        if self.tokenizer is None:
            raise DataError("RULER builds its prompts with the served model's tokenizer: no endpoint to ask")
        lines = LinesOnDisk()
        for length in self.lengths:
            for task in self.tasks:
                if limit is not None and len(lines) >= limit:
                    break
                path = generated(task, length - self.template_tokens, self.samples, self.tokenizer, length)
                lines.add(path, None if limit is None else limit - len(lines))
        return Rows(lines)  # type: ignore[arg-type]


def generated(task: str, length: int, samples: int, tokenizer: ServerTokenizer, nominal: int | None = None) -> Path:
    """The cached samples of one task built to `length` tokens (the run's `nominal` length less the template's
    room): generated by the package's script on first use."""
    nominal = nominal or length
    key = hashlib.sha256(json.dumps([task, length, nominal, samples, SEED, _version(),
                                     tokenizer.fingerprint()]).encode())
    path = cache_dir() / f"{task}-{length_label(nominal)}-{key.hexdigest()[:16]}.jsonl"
    if path.is_file():
        return path
    rows = generate(task, length, samples, tokenizer, nominal)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    with open(partial, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(partial, path)  # a concurrent generator (another xdist worker) wrote the same rows
    return path


def generate(task: str, length: int, samples: int, tokenizer: Any, nominal: int) -> Iterator[dict[str, Any]]:
    """One task's samples at one length, by the package's own generator (as data/prepare.py runs it)."""
    import yaml
    from long_context_eval.data.synthetic.constants import TASKS as TEMPLATES

    package = _package_dir()
    config = yaml.safe_load((package / "synthetic.yaml").read_text())[task]
    template = TEMPLATES[config["task"]]
    tokens_to_generate = template["tokens_to_generate"]
    argv = ["--save_dir", "unused", "--save_name", task, "--tokenizer_path", "served", "--tokenizer_type", "served",
            "--max_seq_length", str(length), "--tokens_to_generate", str(tokens_to_generate),
            "--num_samples", str(samples), "--random_seed", str(SEED),
            "--template", template["template"] + template.get("answer_prefix", "")]
    for name, value in config["args"].items():
        argv += [f"--{name}", str(value)]
    if task in ESSAY:
        _sentence_splitter()
    script = _import_script(package / "data" / "synthetic" / f"{config['task']}.py", argv, tokenizer)
    with contextlib.redirect_stdout(sys.stderr):  # the scripts print their search for the haystack size
        made = _run(script, config["task"], samples, length)
    for row in made:
        yield {"task": task, "max_seq_length": nominal, "index": row["index"], "input": row["input"],
               "outputs": row["outputs"], "length": row["length"], "tokens_to_generate": tokens_to_generate}


def _run(script: types.ModuleType, kind: str, samples: int, length: int) -> list[dict[str, Any]]:
    """Each script's main() without its manifest: the function it calls, with the same arguments."""
    args = script.args
    if kind == "niah" or kind == "qa":
        return script.generate_samples(num_samples=samples, max_seq_length=length, save_dir=args.save_dir)
    if kind == "variable_tracking":  # a 500-token example first, put in front of each sample (few-shot)
        example = script.sys_vartrack_w_noise_random(num_samples=1, max_seq_length=500, incremental=5,
                                                     num_chains=args.num_chains, num_hops=args.num_hops)[0]
        return script.sys_vartrack_w_noise_random(num_samples=samples, max_seq_length=length,
                                                  num_chains=args.num_chains, num_hops=args.num_hops,
                                                  icl_example=example)
    if kind == "common_words_extraction":
        return script.sys_word_pair_random(num_samples=samples, max_seq_length=length, save_dir=args.save_dir)
    if kind == "freq_words_extraction":
        return script.sys_kwext(num_samples=samples, max_seq_length=length, incremental=10)
    raise DataError(f"unknown RULER task kind {kind!r}")


def _import_script(path: Path, argv: list[str], tokenizer: Any) -> types.ModuleType:
    """Import a generator script as a fresh module: its argv, our tokenizer, its sibling imports on sys.path."""
    import long_context_eval.data.tokenizer as tokenizer_module

    shim = types.ModuleType("tokenizer")
    shim.select_tokenizer = lambda *_args: tokenizer  # type: ignore[attr-defined]
    saved_argv, saved_path = sys.argv, list(sys.path)
    saved_select = tokenizer_module.select_tokenizer
    saved_modules = {name: sys.modules.get(name) for name in ("tokenizer", "constants")}
    spec = importlib.util.spec_from_file_location(f"nemoeval_ruler_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.argv = [str(path), *argv]
    sys.path[:0] = [str(path.parent), str(path.parent.parent)]  # `from constants import`, `from tokenizer import`
    sys.modules["tokenizer"] = shim
    sys.modules.pop("constants", None)
    tokenizer_module.select_tokenizer = shim.select_tokenizer  # type: ignore[attr-defined]
    try:
        spec.loader.exec_module(module)
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
        tokenizer_module.select_tokenizer = saved_select
        for name, value in saved_modules.items():
            if value is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = value
    return module


def _sentence_splitter() -> None:
    """NLTK's punkt_tab for the essay tasks: the copy llama-index-core ships, else fetched once into the cache."""
    import nltk

    from pytest_nemoeval.tasks.ifbench import _packaged_nltk_data, nltk_cache

    try:
        nltk.data.find("tokenizers/punkt_tab")
        return
    except LookupError:
        pass
    packaged = _packaged_nltk_data()
    for where in (packaged, str(nltk_cache())):
        if where and where not in nltk.data.path:
            nltk.data.path.append(where)
    try:
        nltk.data.find("tokenizers/punkt_tab")
        return
    except LookupError:
        pass
    with contextlib.redirect_stdout(sys.stderr):
        fetched = nltk.download("punkt_tab", download_dir=str(nltk_cache()), quiet=True, raise_on_error=False)
    if not fetched:
        raise DataError("RULER's essay tasks split sentences with NLTK's punkt_tab, which is not installed and could "
                        "not be fetched: pip install llama-index-core (it ships it), or run "
                        "python -m nltk.downloader punkt_tab, or leave those tasks out (data.tasks)")


def _package_dir() -> Path:
    spec = importlib.util.find_spec(MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"RULER needs {PACKAGE}: pip install 'pytest-nemoeval[ruler]'")
    return Path(list(spec.submodule_search_locations)[0])


def _version() -> str:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        pass
    # importlib.metadata can miss an installed package in a long-lived process whose metadata lookup went stale
    # (seen in the test process after other tests); its dist-info beside the package says the same
    spec = importlib.util.find_spec(MODULE)
    if spec is not None and spec.submodule_search_locations:
        site = Path(list(spec.submodule_search_locations)[0]).parent
        for info in site.glob(PACKAGE.replace("-", "_") + "-*.dist-info"):
            return info.name.removesuffix(".dist-info").split("-")[1]
    return "not installed"


def postprocess(prediction: str | None) -> str:
    """long_context_eval/eval/evaluate.py postprocess_pred: strip, control characters to newlines."""
    import re

    if prediction is None:
        return ""
    return re.sub(r"[\x00-\x1f]", "\n", prediction.strip()).strip()


def score(task: str, prediction: str | None, references: list[str]) -> float:
    """The package's per-sample score in [0, 1]: string_match_part for QA, string_match_all otherwise."""
    from long_context_eval.eval.synthetic.constants import (string_match_all_per_sample,
                                                            string_match_part_per_sample)

    metric = string_match_part_per_sample if task.startswith("qa") else string_match_all_per_sample
    return metric([postprocess(prediction)], [references])[0] / 100


def prompts(options: dict[str, Any]) -> RulerPrompts:
    """The suite's data source for its data options (tasks, lengths, samples; endpoint: the served model's)."""
    tasks = tuple(options["tasks"])
    unknown = [task for task in tasks if task not in TASKS]
    if unknown:
        raise DataError(f"unknown RULER task(s) {', '.join(unknown)} (known: {', '.join(TASKS)})")
    try:
        lengths = tuple(int(length) for length in options["lengths"])
    except (TypeError, ValueError):
        raise DataError(f"data.lengths must be a list of token counts, e.g. [4096, 8192], got {options['lengths']!r}")
    for task in tasks:  # below these the package's generators find no haystack size and loop for ever
        least = MIN_LENGTH.get(task, 1024)
        if min(lengths, default=least) < least:
            raise DataError(f"RULER's {task} needs lengths of at least {least} tokens (its smallest prompt with "
                            f"the package's generator), got {min(lengths)}")
    endpoint = options.get("endpoint") or {}
    tokenizer = ServerTokenizer(endpoint["url"], endpoint["model"]) if endpoint.get("url") else None
    return RulerPrompts(tasks, lengths, int(options["samples"]), int(options.get("template_tokens", 50)), tokenizer)


def failed_inputs(row: dict[str, Any]) -> dict[str, Any]:
    """An item without a scored answer (an error, a prompt beyond the context) scores 0 for its task and length."""
    return {"task": row["task"], "length": row["max_seq_length"], "score": 0.0}


def metrics(outcomes: list[Any], repeats: int) -> dict[str, Any]:
    """`score`, `score_<length>` and `<task>_<length>`: the mean per-sample score (a sample's repeats averaged
    first). With the same number of samples per task (100 in the published run) `score_<length>` is the
    published average over the 13 tasks."""
    from pytest_nemoeval.metrics import summarize

    by_task: dict[tuple[int, str], list[float]] = {}
    for outcome in outcomes:
        inputs = [given for given in outcome.inputs if given]
        if not inputs:
            continue
        values = [float((given or {}).get("score", 0.0)) for given in outcome.inputs]
        by_task.setdefault((inputs[0]["length"], inputs[0]["task"]), []).append(sum(values) / len(values))
    found: dict[str, Any] = {}
    by_length: dict[int, list[float]] = {}
    for (length, task), values in sorted(by_task.items()):
        found[f"{task}_{length_label(length)}"] = summarize(values)
        by_length.setdefault(length, []).extend(values)
    for length, values in sorted(by_length.items()):
        found[f"score_{length_label(length)}"] = summarize(values)
    found["score"] = summarize([value for values in by_length.values() for value in values])
    return found
