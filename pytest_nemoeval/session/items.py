"""ItemsPlugin: suites become items, items' requests become the plan, and each item gets its response and
records its verdict. Registered where items are collected (the only process, or each xdist worker)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generator, Protocol

import pytest

from pytest_nemoeval.config import RunConfig
from pytest_nemoeval.data import Rows
from pytest_nemoeval.engine.context import OVERFLOW_KEY, is_overflow
from pytest_nemoeval.errors import DataError, EndpointDown, GenerationError
from pytest_nemoeval.scoring import Response, Verdict
from pytest_nemoeval.selection import may_select
from pytest_nemoeval.session.checks import (check_benchmark_names, check_completions, check_judge,
                                            check_preflight, check_requirements, check_user)
from pytest_nemoeval.session.plan import PreparedSuite, plan_row
from pytest_nemoeval.shard import split
from pytest_nemoeval.suite import Suite, installed, prompt_hash

if TYPE_CHECKING:
    from pytest_nemoeval.engine.store import ResponseStore

POSITION = pytest.StashKey[int]()
VERDICT = pytest.StashKey[Verdict]()
RESPONSE = pytest.StashKey[Response]()
PLANNED = pytest.StashKey[tuple[str, str]]()  # (request key, prompt hash)
ITEM_PARAM = "nemoeval_item"
OWN_PROPERTIES = ("nemoeval_item", "nemoeval")  # user_properties the plugin attaches to reports


@dataclass(frozen=True)
class ItemRef:
    benchmark: str
    sample_index: int
    repeat: int


class Role(Protocol):
    """What the items need from the process they run in (ControllerPlugin or WorkerPlugin)."""

    def served_model(self) -> str: ...

    def endpoint_url(self) -> str: ...

    def open_store(self) -> ResponseStore: ...

    def plan_published(self) -> None: ...

    def runs_embedded_model(self) -> bool | None: ...

    def usage_error(self, message: str) -> None: ...

    def shard_selected(self, shard: dict[str, Any]) -> None: ...

    def show_configuration(self) -> None: ...

    def show_progress(self, waiting: pytest.Item) -> None: ...


def dataset_record(suite: Suite, rows: Rows, system_prompt: str | None) -> tuple[dict[str, Any], list[int]]:
    """What results.json records of a benchmark's data: source, revision, the number of rows, and the sha256
    of the rows and of every row's prompt (the template applied to them): two runs on other data, or with
    another prompt, differ here. Also each row's prompt size (characters), the cost --shard balances. A suite
    whose packages are missing has no prompts here (its prompt may need them; check_requirements stops the run if
    it is selected, and a suite left out by -k must not stop it)."""
    record = {**rows.origin, "rows": len(rows), "rows_sha256": rows.fingerprint()}
    if not all(installed(module) for module in suite.requires):
        return {**record, "prompts_sha256": None}, [0] * len(rows)
    prompts = hashlib.sha256()
    sizes = []
    for index in range(len(rows)):
        text = suite.request_text(rows, index, system_prompt)
        prompts.update(prompt_hash(text).encode())
        sizes.append(split.prompt_chars(text))
    return {**record, "prompts_sha256": prompts.hexdigest()}, sizes


def item_ref(item: pytest.Item) -> ItemRef | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get(ITEM_PARAM) if callspec is not None else None


class ItemsPlugin:
    def __init__(self, config: pytest.Config, run: RunConfig, role: Role) -> None:
        self.config = config
        self.run = run
        self.role = role
        self.prepared: dict[str, PreparedSuite] = {}
        self.suite_dirs: set[Path] = set()  # where suite modules were collected (their names are the known ones)
        self.data_errors: list[str] = []
        self.items: list[pytest.Item] = []
        self.store: ResponseStore | None = None
        self.model: str | None = None
        self.scoring: dict[str, Any] | None = None  # what the completions probe found (base-model suites)

    # -- collection ---------------------------------------------------------------------------------

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        suite = getattr(metafunc.module, "suite", None)
        if ITEM_PARAM not in metafunc.fixturenames:
            return
        if not isinstance(suite, Suite):
            self.data_errors.append(f"{metafunc.module.__name__}: {metafunc.function.__name__} uses the nemoeval "
                                    "fixtures but the module defines no `suite = Suite(...)`")
            metafunc.parametrize(ITEM_PARAM, [])
            return
        module_file = Path(str(metafunc.module.__file__))
        self.suite_dirs.add(module_file.parent)
        if (not may_select(self.config.option.keyword or "", module_file, metafunc.function.__name__)
                or not self.run.covers(suite.name)):
            metafunc.parametrize(ITEM_PARAM, [])  # -k or the recipe leaves this suite out: its data is never loaded
            return
        prepared = self.prepare(suite, module_file)
        skips: dict[str, pytest.MarkDecorator] = {}  # one mark per reason, shared by its items
        refs, ids = [], []
        reserve = self.run.max_extra_repeats if self.run.until_decided else 0  # kept aside (until_decided.py)
        for index, repeat, item_id, reason in suite.items(prepared.rows, prepared.repeats + reserve):
            ref = ItemRef(suite.name, index, repeat)
            if reason and reason not in skips:
                skips[reason] = pytest.mark.skip(reason=reason)
            refs.append(pytest.param(ref, marks=skips[reason]) if reason else ref)
            ids.append(item_id)
        metafunc.parametrize(ITEM_PARAM, refs, ids=ids)
        module = metafunc.definition.getparent(pytest.Module)
        if module is not None and module.get_closest_marker("nemoeval") is None:
            module.add_marker("nemoeval")  # on the module, not on each of thousands of items

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """A suite left out (by the recipe, or -k before pytest's own matching) is deselected, not skipped."""
        left_out = [item for item in items if ITEM_PARAM in getattr(item, "fixturenames", ())
                    and not isinstance(item_ref(item), ItemRef)]
        if left_out:
            dropped = set(left_out)
            items[:] = [item for item in items if item not in dropped]
            config.hook.pytest_deselected(items=left_out)
        if self.run.shard is not None:
            take_shard(config, items, self.run.shard, self.prepared, self.role)

    def prepare(self, suite: Suite, module_file: Path) -> PreparedSuite:
        if suite.name in self.prepared:
            return self.prepared[suite.name]
        rows = Rows([])
        try:
            options = self.run.benchmark(suite.name).get("data")
            if "endpoint" in suite.data_options and not self.run.data_dir:  # built with the served model's tokenizer
                options = {"endpoint": {"url": self.role.endpoint_url(), "model": self.role.served_model()},
                           **(options or {})}
            rows = suite.load_rows(self.run.data_dir, self.run.limit_for(suite.name), options)
        except DataError as exc:
            self.data_errors.append(f"{suite.name}: {exc}")
        except OSError as exc:
            self.data_errors.append(f"{suite.name}: cannot read data: {exc}")
        except pytest.UsageError as exc:  # the endpoint whose tokenizer builds the data (RULER) is unreachable
            self.data_errors.append(f"{suite.name}: {exc}")
        generation = self.run.generation_for(suite.name, suite.generation)
        dataset, sizes = dataset_record(suite, rows, generation.get("system_prompt"))
        prepared = PreparedSuite(suite, rows, self.run.repeats_for(suite.name, suite.repeats), generation,
                                 module_file, dataset, sizes)
        self.prepared[suite.name] = prepared
        return prepared

    @pytest.hookimpl(tryfirst=True)  # an xdist worker publishes the plan before it reports collection done
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        try:
            if self.data_errors:
                raise pytest.UsageError(self.data_errors[0])
            check_benchmark_names(self.run, self.prepared, self.suite_dirs)
            # a skipped item needs no response: it is not in the plan
            self.items = [item for item in session.items
                          if item_ref(item) is not None and item.get_closest_marker("skip") is None]
            selected = sorted({item_ref(item).benchmark for item in self.items})  # type: ignore[union-attr]
            check_requirements(self.prepared, selected)
        except pytest.UsageError as exc:
            self.role.usage_error(str(exc))
            raise
        for position, item in enumerate(self.items):
            item.stash[POSITION] = position
        if self.config.option.collectonly:
            self.role.show_configuration()
            return
        if self.items:
            check_judge(self.run, self.prepared, selected, self.role.runs_embedded_model)
            check_user(self.run, self.prepared, selected)
            check_preflight(self.run, self.prepared, selected)
            self.model = self.role.served_model()
            self.scoring = check_completions(self.run, self.prepared, selected, self.role)
            self.store = self.role.open_store()
            self.store.publish_plan(self.request_for(item_ref(item), self.model) for item in self.items)
            self.role.plan_published()

    def request_for(self, ref: ItemRef | None, model: str) -> tuple[str, str, dict[str, Any]]:
        """(request key, prompt hash, payload) of one item: a row of the plan."""
        assert ref is not None
        prepared = self.prepared[ref.benchmark]
        judge = {"endpoint": self.run.section("judge")["endpoint"],
                 "model": self.run.judge_model(ref.benchmark, prepared.suite.judge) if prepared.suite.judge else None}
        if prepared.suite.simulated_user:  # another user model is another conversation
            judge = {**judge, "user": {key: self.run.section("user")[key] for key in ("endpoint", "model")}}
        return plan_row(prepared, ref.sample_index, ref.repeat, model, self.run.benchmark(ref.benchmark).get("data"),
                        judge, self.scoring)

    # -- items --------------------------------------------------------------------------------------

    def sample_for(self, ref: ItemRef) -> dict[str, Any]:
        return self.prepared[ref.benchmark].rows[ref.sample_index]

    def context_overflow(self, item: pytest.Item) -> bool:
        """An item whose request could not fit the context: recorded wrong with no answer (NeMo Skills' soft-fail),
        and its scorer is not called."""
        response = item.stash.get(RESPONSE, None)
        if response is None or OVERFLOW_KEY not in response.body:
            return False
        recorded = item.stash.get(VERDICT, None)
        if recorded is None:
            recorded = item.stash[VERDICT] = Verdict()
        ref = item_ref(item)
        suite = self.prepared[ref.benchmark].suite if ref is not None else None
        inputs = (suite.failed_inputs(self.prepared[ref.benchmark].rows[ref.sample_index])  # type: ignore[union-attr]
                  if suite is not None and suite.failed_inputs is not None else None)
        recorded(False, answer=None, metric_inputs=inputs, **{OVERFLOW_KEY: response.body[OVERFLOW_KEY]})
        return True

    def response_for(self, item: pytest.Item) -> Response:
        """The `response` fixture: wait for this item's response (identify() hands it over if it is ready)."""
        from pytest_nemoeval.engine.store import wait_for

        if self.store is None:
            pytest.fail("no generation is running for this item", pytrace=False)
        try:
            body = wait_for(self.store, item.stash[PLANNED][0], idle=lambda: self.role.show_progress(item))
        except EndpointDown as exc:
            failure = str(exc)
            item.session.shouldstop = failure  # the rest would fail for the same reason
        except GenerationError as exc:
            failure = str(exc)
            if is_overflow(failure):  # not sent: the scorer is not called (context_overflow)
                failure, body = None, {"content": None, "finish_reason": "context_overflow", OVERFLOW_KEY: failure}
        else:
            failure = None
        if failure is not None:
            pytest.fail(failure, pytrace=False)
        response = item.stash[RESPONSE] = Response.from_body(body)
        return response


    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        ref = item_ref(item)
        if ref is None:
            return
        prepared = self.prepared[ref.benchmark]
        row = prepared.rows[ref.sample_index]
        ident = {
            "benchmark": ref.benchmark, "sample_index": ref.sample_index, "repeat": ref.repeat,
            "sample_id": prepared.suite.sample_id(row, ref.sample_index),
            "repeats": prepared.repeats, "primary_metric": prepared.suite.primary_metric, "model": self.model,
            "suite_file": str(prepared.module_file), "dataset": prepared.dataset,
            "generation": prepared.generation}
        if prepared.suite.harness is not None and self.scoring is not None:
            ident["scoring"] = self.scoring
        if prepared.suite.category_field is not None:
            value = row.get(prepared.suite.category_field)
            ident["category"] = "(missing)" if value is None else str(value)
            ident["category_field"] = prepared.suite.category_field
        item.user_properties.append(("nemoeval_item", ident))
        if prepared.suite.failed_inputs is not None:  # after the ident: were it to raise, the error still counts
            ident["failed_inputs"] = prepared.suite.failed_inputs(row)
        if self.store is None or POSITION not in item.stash:  # no generation, or a skipped item
            return
        item.stash[PLANNED] = self.store.planned(item.stash[POSITION])
        # What cannot fail is handed over ready-made: `sample`, `verdict`, and `response` when it is already
        # in the store (the usual case: the engine runs ahead). pytest then skips those fixture functions,
        # each of which costs a fifth of a plain item. Same values as the fixtures give. (pytest has no public
        # way to pre-fill fixture values; `item.funcargs` is the dict its fixture request fills.)
        funcargs = getattr(item, "funcargs", None)
        if funcargs is not None and not funcargs:
            recorded = item.stash[VERDICT] = Verdict()
            funcargs.update(sample=row, verdict=recorded)
            body = self.store.get(item.stash[PLANNED][0])
            if body is not None:
                funcargs["response"] = item.stash[RESPONSE] = Response.from_body(body)

    @pytest.hookimpl(wrapper=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Generator[None, Any, Any]:
        result = yield
        self.after_scorer(pyfuncitem)
        return result

    def after_scorer(self, item: pytest.Item) -> None:
        ref = item_ref(item)
        if ref is None:
            return
        # taken out of the stash: pytest keeps every item until the end, so nothing large may stay on it
        verdict = _pop(item.stash, VERDICT)
        if verdict is None or verdict.record is None:
            pytest.fail("the scorer did not record a verdict: call verdict(correct, answer=..., expected=...)",
                        pytrace=False)
        response = _pop(item.stash, RESPONSE)
        key, digest = _pop(item.stash, PLANNED) or (None, None)
        prepared = self.prepared[ref.benchmark]
        row = prepared.rows[ref.sample_index]
        # Small on purpose: pytest keeps every report, and xdist ships it home. The controller adds the
        # response text and reasoning from the store (by request key) when it writes samples.jsonl.
        record = {
            "sample_id": prepared.suite.sample_id(row, ref.sample_index), "repeat": ref.repeat,
            "prompt_hash": digest, "request_key": key,
            **verdict.record,
            "verdict": verdict.name,
            "finish_reason": response.finish_reason if response else None,
            "tokens": response.completion_tokens if response else None,
            "latency": response.latency if response else None,
        }
        item.user_properties.append(("nemoeval", record))
        if self.run.fail_incorrect and verdict.name == "incorrect":
            pytest.fail(f"incorrect: expected {record['expected']!r}, extracted {record['extracted']!r}",
                        pytrace=False)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, Any, Any]:
        try:
            return (yield)
        finally:
            self.release(item)

    def release(self, item: pytest.Item) -> None:
        """Drop what an item holds (pytest keeps every item until the end of the run)."""
        for key in (VERDICT, RESPONSE, PLANNED):
            _pop(item.stash, key)
        item.user_properties[:] = [entry for entry in item.user_properties if entry[0] not in OWN_PROPERTIES]


def take_shard(config: pytest.Config, items: list[pytest.Item], shard: str, prepared: dict[str, PreparedSuite],
               role: Role) -> None:
    """--shard K/N: the other jobs' items are deselected (after -k, -m and the recipe); others run in job 1."""
    refs = [(item_ref(item), item) for item in items]
    ours, record = split.take(shard, [
        (ref.benchmark, ref.sample_index, ref.repeat,
         0 if item.get_closest_marker("skip") else prepared[ref.benchmark].item_cost(ref.sample_index), item)
        for ref, item in refs if isinstance(ref, ItemRef)])
    theirs = [item for ref, item in refs if item not in ours and (record["index"] != 1 or isinstance(ref, ItemRef))]
    if theirs:
        dropped = set(theirs)
        items[:] = [item for item in items if item not in dropped]
        config.hook.pytest_deselected(items=theirs)
    role.shard_selected(record)


def _pop(stash: pytest.Stash, key: pytest.StashKey[Any]) -> Any:
    value = stash.get(key, None)
    if value is not None:
        del stash[key]
    return value
