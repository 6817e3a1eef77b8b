"""Suite: what a benchmark module declares (data, prompt, generation, repeats, metrics)."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

from pytest_nemoeval.data import DataSource, Rows, at_revision, check_row, read_jsonl
from pytest_nemoeval.errors import DataError, DriverError
from pytest_nemoeval.harness import HarnessTask
from pytest_nemoeval.report.curves import Curve

if TYPE_CHECKING:
    from pytest_nemoeval.tools import PythonTool

Messages = list[dict[str, Any]]


@dataclass
class Suite:
    """A benchmark. Put one in a test module as `suite = Suite(...)`; the module's test is the scorer."""

    name: str
    data: DataSource | Callable[[dict[str, Any]], DataSource]  # a source, or a function of data_options
    # row -> the chat prompt (a user message, or the messages); a base-model suite gives `harness` instead, and
    # a suite whose driver runs a harness that builds its own prompts (tau2-bench) may give none
    prompt: Callable[[dict[str, Any]], str | Messages] | None = None
    # an lm-evaluation-harness task (harness.py): few-shot prompts sent as raw completions, scored by the
    # log-likelihood of each choice (multiple choice) or by the generated text (generative)
    harness: HarnessTask | None = None
    required_fields: tuple[str, ...] = ()
    generation: dict[str, Any] = field(default_factory=dict)
    repeats: int = 1
    primary_metric: str = "accuracy"
    id_field: str | None = None
    # `async def driver(sample, chat) -> dict`, run by the engine for items needing more than one request
    # or overlapping work (see drivers.py); judge="model": its driver uses the judge lane (--judge-*), and that
    # is the published task's judge model, used unless the run names another (--judge-model, recipe judge_model)
    driver: Callable[..., Any] | None = None
    judge: str | None = None
    # simulated_user=True: its driver also talks to the user simulator lane (--user-*, e.g. tau2-bench's user)
    simulated_user: bool = False
    # preflight(results_dir): checked once before anything is sent (a UsageError line), e.g. the Docker daemon
    preflight: Callable[[str], None] | None = None
    # files the suite needs in --data-dir besides its rows (name -> where to get them), e.g. SciCode's targets
    data_files: dict[str, str] = field(default_factory=dict)
    # dataset parameters a recipe may set (`benchmarks.<name>.data: {...}`), with their defaults; `data`
    # may then be a function of them, and `keep(row, options)` selects rows (before --limit-samples)
    data_options: dict[str, Any] = field(default_factory=dict)
    keep: Callable[[dict[str, Any], dict[str, Any]], bool] | None = None
    # rows -> rows: a step over the whole dataset in its order, before `keep` and --limit-samples, for what
    # the reference computes as one pass over the file (GPQA's option order: one seeded stream of shuffles)
    prepare: Callable[[list[dict[str, Any]]], Iterable[dict[str, Any]]] | None = None
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
    # row -> the metric_inputs of its item when the item errors (a failed item's: what the row tells, e.g. its
    # instructions all unfollowed), so that the suite's metrics count the error as a failure of known size
    failed_inputs: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    # metric -> its per-sample form, for the paired comparison with a baseline: "verdict" (the items' verdicts
    # are the metric, e.g. IFBench prompt_loose), or (numerator, denominator): metric_inputs keys summed over a
    # sample's repeats, the metric their ratio over samples (SciCode subtask: passed / steps), or
    # "category_weights": the metric is sum over categories of weight * the category's mean, the weights in the
    # metric's own summary (BFCL overall; each sample weighs its category's weight / its number of samples)
    per_sample: dict[str, str | tuple[str, str]] = field(default_factory=dict)
    # the row field whose value is the sample's category (MMLU-Pro `category`, LiveCodeBench `difficulty`):
    # results.json and `-v` then break the metrics down by it, each with its interval
    category_field: str | None = None
    # tools the model may call (pytest_nemoeval/tools): each model request of an item becomes a tool loop, run
    # by the engine (a suite without a driver: its one request; with one: each `await chat(...)` on the model lane)
    tools: Sequence["PythonTool"] = ()
    # the data's name in --data-dir (DIR/<data_name>.jsonl) when it is not `name`: a variant reads its base's
    data_name: str | None = None
    # grades the whole run at its end where items cannot be graded one by one (CritPt: a remote API grading a
    # batch; its scorer records verdict(None, ...)): `fn(outcomes, repeats, run) -> metrics` with the RunConfig,
    # whose metrics replace those that count correct items; it raises errors.Unscored to leave the run unscored
    run_grader: Callable[[list[Any], int, Any], dict[str, Any]] | None = None
    # row -> generation settings of that row (e.g. RULER's per-task token cap), under the run's own settings
    row_generation: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    # metrics that are points of lines over a numeric axis (RULER: each task's score by context length): results.json
    # lists them (`curve`), and the HTML report draws the lines and tables their values
    curve: Curve | None = None

    def variant(self, name: str, **changes: Any) -> "Suite":
        """This suite under another name with some fields changed (e.g. tools, repeats); `generation` is merged
        into this suite's, and the rows stay this suite's (also in --data-dir) unless `data_name` names others
        (a variant on other data: tau2-bench's domains)."""
        generation = {**self.generation, **changes.pop("generation", {})}
        changes.setdefault("data_name", self.data_file)
        return dataclasses.replace(self, name=name, generation=generation, **changes)

    @property
    def data_file(self) -> str:
        return self.data_name or self.name

    def load_rows(self, data_dir: str | None, limit: int | None, overrides: dict[str, Any] | None = None) -> Rows:
        for name, source in self.data_files.items():
            if not data_dir:
                raise DataError(f"needs --data-dir DIR holding {name}, {source}")
            if not (Path(data_dir) / name).is_file():
                raise DataError(f"--data-dir {data_dir} has no {name}: put there {source}")
        options = dict(self.data_options)
        for key, value in (overrides or {}).items():
            if key not in options and key != "revision":
                known = ", ".join(sorted([*options, "revision"]))
                raise DataError(f"unknown data option '{key}' (known: {known})")
            options[key] = value
        source = self.source(options)
        keep = None if self.keep is None else (lambda row: self.keep(row, options))  # type: ignore[misc]
        rows = self._rows(source, data_dir, limit, keep)
        if self.harness is not None and self.harness.fewshot is not None:
            self._attach_examples(rows, data_dir)
        rows.origin = {"source": str(Path(data_dir) / f"{self.data_file}.jsonl") if data_dir else source.describe(),
                       "revision": None if data_dir else getattr(source, "revision", None)}
        return rows

    def _rows(self, source: DataSource, data_dir: str | None, limit: int | None,
              keep: Callable[[dict[str, Any]], bool] | None) -> Rows:
        if data_dir:
            path = Path(data_dir) / f"{self.data_file}.jsonl"
            if not path.is_file():
                raise DataError(f"--data-dir {data_dir}: no file {path} (one JSON object per line, "
                                f"in the schema of {source.describe()})")
            if self.prepare is None:
                return read_jsonl(path, limit, self.required_fields, keep)
            loaded: Sequence[dict[str, Any]] = list(read_jsonl(path, None, self.required_fields))
        else:
            loaded = source.load(None if keep or self.prepare else limit)
            for index, row in enumerate(loaded):
                check_row(row, self.required_fields, f"{source.describe()} row {index}")
        if self.prepare is None and keep is None:  # the first `limit` already
            return loaded if isinstance(loaded, Rows) else Rows.of(loaded)  # Rows: e.g. kept on disk (RULER)
        rows = list(self.prepare([dict(row) for row in loaded])) if self.prepare is not None else list(loaded)
        if keep is not None:
            rows = [row for row in rows if keep(row)]
        return Rows.of(rows[:limit] if limit is not None else rows)

    def _attach_examples(self, rows: Rows, data_dir: str | None) -> None:
        """The few-shot split (DIR/<name>.fewshot.jsonl with --data-dir) and each row's examples in it."""
        assert self.harness is not None and self.harness.fewshot is not None
        fewshot = self.harness.fewshot
        if data_dir:
            path = Path(data_dir) / f"{self.data_file}.fewshot.jsonl"
            if not path.is_file():
                raise DataError(f"--data-dir {data_dir}: no file {path} (the few-shot examples, one JSON object per "
                                f"line, in the schema of {fewshot.source.describe()})")
            examples = read_jsonl(path, None, self.required_fields)
        else:
            examples = Rows.of(fewshot.source.load(None))
        loaded = [examples[index] for index in range(len(examples))]
        try:
            rows.shots = fewshot.choose([rows[index] for index in range(len(rows))], loaded)
        except ValueError as exc:
            raise DataError(f"few-shot examples: {exc}") from None
        rows.examples = examples

    def request_text(self, rows: Rows, index: int, system_prompt: str | None) -> str | Messages | list[tuple[str, str]]:
        """What is sent for a row: its chat messages, or a harness task's prompt (generative) or its
        (context, continuation) pairs (multiple choice)."""
        row = rows[index]
        if self.harness is None:
            return self.messages(row, system_prompt)
        examples = [rows.examples[i] for i in rows.shots[index]] if rows.examples is not None else []
        if self.harness.generative:
            return self.harness.context(row, examples)
        return self.harness.requests(row, examples)

    def source(self, options: dict[str, Any]) -> DataSource:
        """The data source for these data options; `revision` (recipe data.revision) replaces the pinned one."""
        source = self.data if isinstance(self.data, DataSource) else self.data(options)
        return at_revision(source, str(options["revision"])) if options.get("revision") else source

    def messages(self, row: dict[str, Any], system_prompt: str | None) -> Messages:
        if self.prompt is None and self.driver is not None:  # a harness in the driver builds its own prompts
            return []
        if self.prompt is None:
            raise TypeError(f"suite {self.name} has no chat prompt")
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


def build_payload(messages: Messages | str, model: str, generation: dict[str, Any], repeat: int,
                  field: str = "messages") -> dict[str, Any]:
    """The chat-completions request (or, with field="prompt", the completions one). A fixed seed is offset by
    the repeat so repeats stay distinct."""
    options = {key: value for key, value in generation.items() if value is not None}
    for setting in LOCAL_SETTINGS:
        options.pop(setting, None)
    extra = options.pop("extra_body", None) or {}
    payload: dict[str, Any] = {"model": model, field: messages}
    if "max_new_tokens" in options:
        payload["max_tokens"] = int(options.pop("max_new_tokens"))
    if "seed" in options:
        options["seed"] = int(options["seed"]) + repeat
    payload.update(options)
    payload.update(extra)
    return payload


# generation settings the plugin itself uses, never sent: the chat system prompt, for log-likelihood items
# the harness's max_length (context truncation) and pin_slots (teacher forcing on one slot per sample), and
# a tool suite's budget of tool calls per conversation (tools/loop.py)
LOCAL_SETTINGS = ("system_prompt", "max_length", "pin_slots", "max_tool_calls")


def request_key(payload: dict[str, Any], repeat: int, occurrence: int = 0) -> str:
    """Cache key: model + full request payload + repeat index (+ the occurrence of an identical request asked
    again within one item, see drivers.py)."""
    identity: dict[str, Any] = {"payload": payload, "repeat": repeat}
    if occurrence:
        identity["occurrence"] = occurrence
    text = json.dumps(identity, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def prompt_hash(prompt: Any) -> str:
    return hashlib.sha256(json.dumps(prompt, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


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
