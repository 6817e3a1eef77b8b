"""Suite: what a benchmark module declares (data, prompt, generation, repeats, primary metric)."""

from __future__ import annotations

import hashlib
import functools
import importlib.util
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator, Sequence

from pytest_nemoeval.errors import DataError, DriverError


Messages = list[dict[str, Any]]


@dataclass(frozen=True)
class HubDataset:
    """A dataset on the HF hub, loaded with `datasets`; `--data-dir` replaces it by DIR/<benchmark>.jsonl."""

    path: str
    name: str | None = None
    split: str = "test"
    revision: str | None = None

    def describe(self) -> str:
        config = f", config {self.name}" if self.name else ""
        return f"{self.path} (split {self.split}{config})"

    def load(self, limit: int | None) -> Sequence[dict[str, Any]]:
        try:
            import datasets

            dataset = datasets.load_dataset(self.path, self.name, split=self.split, revision=self.revision)
        except Exception as exc:  # datasets raises many types; the user needs one line either way
            if _is_gated(exc):
                raise DataError(f"{self.path} is a gated dataset on the HF hub: accept its terms at "
                                f"https://huggingface.co/datasets/{self.path} and export HF_TOKEN "
                                "(or use --data-dir)") from None
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            raise DataError(f"could not load {self.describe()} through datasets: {reason}") from None
        if limit is not None:
            dataset = dataset.select(range(min(limit, len(dataset))))
        return dataset


def _is_gated(exc: BaseException | None) -> bool:
    """huggingface_hub's GatedRepoError, or the 401/403 that `datasets` turns it into, anywhere in the chain."""
    while exc is not None:
        text = str(exc).lower()
        if type(exc).__name__ == "GatedRepoError" or re.search(r"gated|authenticat|\b40[13]\b", text):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class Rows(Sequence[dict[str, Any]]):
    """Dataset rows kept compact (one JSON text each, a fifth of the size of the dicts) and parsed on
    access; the last row parsed is kept, since the repeats of a sample are consecutive items."""

    def __init__(self, encoded: list[bytes]) -> None:
        self._encoded = encoded
        self._last: tuple[int, dict[str, Any]] | None = None

    def __len__(self) -> int:
        return len(self._encoded)

    def __getitem__(self, index: int) -> dict[str, Any]:  # type: ignore[override]
        if self._last is None or self._last[0] != index:
            self._last = (index, json.loads(self._encoded[index]))
        return self._last[1]

    @classmethod
    def of(cls, rows: Sequence[dict[str, Any]]) -> "Rows":
        return cls([json.dumps(dict(row), ensure_ascii=False, default=str).encode() for row in rows])



def read_jsonl(path: Path, limit: int | None, required: tuple[str, ...],
               keep: Callable[[dict[str, Any]], bool] | None = None) -> Rows:
    rows: list[bytes] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if limit is not None and len(rows) >= limit:
                break
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise DataError(f"{path} line {number}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path} line {number}: expected a JSON object, got {type(row).__name__}")
            check_row(row, required, f"{path} line {number}")
            if keep is None or keep(row):
                rows.append(line.strip().encode())
    return Rows(rows)


def check_row(row: dict[str, Any], required: tuple[str, ...], where: str) -> None:
    missing = [name for name in required if name not in row]
    if missing:
        raise DataError(f"{where}: missing field {', '.join(repr(m) for m in missing)}")


@dataclass
class Suite:
    """A benchmark. Put one in a test module as `suite = Suite(...)`; the module's test is the scorer."""

    name: str
    data: HubDataset
    prompt: Callable[[dict[str, Any]], str | Messages]
    required_fields: tuple[str, ...] = ()
    generation: dict[str, Any] = field(default_factory=dict)
    repeats: int = 1
    primary_metric: str = "accuracy"
    id_field: str | None = None
    # `async def driver(sample, chat) -> dict`, run by the engine for items needing more than one request
    # or overlapping work (see drivers.py); judge=True: its driver uses the judge lane (--judge-*)
    driver: Callable[..., Any] | None = None
    judge: bool = False
    # files the suite needs in --data-dir besides its rows (name -> where to get them), e.g. SciCode's targets
    data_files: dict[str, str] = field(default_factory=dict)
    # dataset parameters a recipe may set (`benchmarks.<name>.data: {...}`), with their defaults; `data`
    # may then be a function of them, and `keep(row, options)` selects rows (before --limit-samples)
    data_options: dict[str, Any] = field(default_factory=dict)
    keep: Callable[[dict[str, Any], dict[str, Any]], bool] | None = None
    # packages the scorer imports: {import name: what to pip install}, checked before anything is sent
    requires: dict[str, str] = field(default_factory=dict)
    # row -> a label put in the item id (`s00042-<label>-r0`), so that -k can select by it (e.g. a category)
    item_label: Callable[[dict[str, Any]], str] | None = None
    # row -> why it cannot run here, or None: its items are collected and skipped with that reason, and
    # nothing is sent for them (decided at collection, so it never comes from the response cache)
    skip: Callable[[dict[str, Any]], str | None] | None = None
    # the benchmark's own metrics, `fn(outcomes, repeats) -> {name: {"value": ...}}`, next to the built-in ones
    # (accuracy, pass@k, ...); the controller finds them through the suite module's path (also under xdist)
    metrics: Sequence[Callable[[list[Any], int], dict[str, Any]]] = ()

    def load_rows(self, data_dir: str | None, limit: int | None, overrides: dict[str, Any] | None = None) -> Rows:
        for name, source in self.data_files.items():
            if not data_dir:
                raise DataError(f"needs --data-dir DIR holding {name}, {source}")
            if not (Path(data_dir) / name).is_file():
                raise DataError(f"--data-dir {data_dir} has no {name}: put there {source}")
        options = dict(self.data_options)
        for key, value in (overrides or {}).items():
            if key not in options:
                known = ", ".join(sorted(options)) or "none"
                raise DataError(f"unknown data option '{key}' (known: {known})")
            options[key] = value
        source = self.data if hasattr(self.data, "load") else self.data(options)  # type: ignore[operator]
        keep = None if self.keep is None else (lambda row: self.keep(row, options))  # type: ignore[misc]
        if data_dir:
            path = Path(data_dir) / f"{self.name}.jsonl"
            if not path.is_file():
                raise DataError(f"--data-dir {data_dir}: no file {path} (one JSON object per line, "
                                f"in the schema of {source.describe()})")
            return read_jsonl(path, limit, self.required_fields, keep)
        loaded = source.load(None if keep else limit)
        for index, row in enumerate(loaded):
            check_row(row, self.required_fields, f"{source.describe()} row {index}")
        if keep is not None:
            loaded = [row for row in loaded if keep(row)][:limit]
        return Rows.of(loaded)

    def messages(self, row: dict[str, Any], system_prompt: str | None) -> Messages:
        prompt = self.prompt(row)
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
        if system_prompt:
            messages.insert(0, {"role": "system", "content": system_prompt})
        return messages

    def items(self, rows: Sequence[dict[str, Any]], repeats: int) -> Iterator[tuple[int, int, str, str | None]]:
        """(sample index, repeat, item id, skip reason) of every item. A row is parsed once for all its
        repeats, and only if item_label or skip needs it."""
        for index in range(len(rows)):
            row = rows[index] if self.item_label or self.skip else {}
            label = f"-{self.item_label(row)}" if self.item_label else ""
            reason = self.skip(row) if self.skip else None
            for repeat in range(repeats):
                yield index, repeat, f"s{index:05d}{label}-r{repeat}", reason

    def sample_id(self, row: dict[str, Any], index: int) -> Any:
        return row.get(self.id_field, index) if self.id_field else index


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # an import blocked with None in sys.modules, or a broken parent package
        return False


def build_payload(messages: Messages, model: str, generation: dict[str, Any], repeat: int) -> dict[str, Any]:
    """The chat-completions request. A fixed seed is offset by the repeat so repeats stay distinct."""
    options = {key: value for key, value in generation.items() if value is not None}
    options.pop("system_prompt", None)
    extra = options.pop("extra_body", None) or {}
    payload: dict[str, Any] = {"model": model, "messages": messages}
    if "max_new_tokens" in options:
        payload["max_tokens"] = int(options.pop("max_new_tokens"))
    if "seed" in options:
        options["seed"] = int(options["seed"]) + repeat
    payload.update(options)
    payload.update(extra)
    return payload


def request_key(payload: dict[str, Any], repeat: int) -> str:
    """Cache key: model + full request payload + repeat index."""
    text = json.dumps({"payload": payload, "repeat": repeat}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def prompt_hash(messages: Messages) -> str:
    return hashlib.sha256(json.dumps(messages, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


@functools.cache
def load_suite_module(path: str) -> ModuleType:
    """A suite module imported from its file, once per process: the engine process runs its driver, and the
    controller applies its metrics (under xdist it never collected the suite)."""
    name = f"nemoeval_suite_{Path(path).stem}_{abs(hash(path))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise DriverError(f"cannot import the suite module {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise DriverError(f"importing the suite module {path} failed: {type(exc).__name__}: {exc}") from None
    return module
