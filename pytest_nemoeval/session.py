"""NemoEvalSession: all state of one run. plugin.py forwards pytest's hooks to it.

Roles: without xdist one process does everything. Under xdist the controller owns the endpoint
(and the embedded server), the one generation engine, the results and the gate; each worker collects,
publishes the plan (the first one to get there), waits for its items' responses in the shared store,
scores them and reports the verdicts home.
"""

from __future__ import annotations

import atexit
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_nemoeval import __version__
from pytest_nemoeval.config import RunConfig
from pytest_nemoeval.endpoint import Endpoint, connect, normalize_url
from pytest_nemoeval.gate import GateFailure, evaluate
from pytest_nemoeval.results import ResultsCollector, provenance
from pytest_nemoeval.scoring import Response, Verdict
from pytest_nemoeval.selection import may_select
from pytest_nemoeval.servers import Deployment, ServerProcess, deployment_from
from pytest_nemoeval.errors import DataError, EndpointDown, GenerationError
from pytest_nemoeval.metrics import benchmark_metrics
from pytest_nemoeval.data import Rows
from pytest_nemoeval.suite import Suite, build_payload, installed, load_suite_module, prompt_hash, request_key

if TYPE_CHECKING:
    from pytest_nemoeval.engine.loop import Lane
    from pytest_nemoeval.engine.process import EngineProcess
    from pytest_nemoeval.engine.store import ResponseStore

POSITION = pytest.StashKey[int]()
VERDICT = pytest.StashKey[Verdict]()
RESPONSE = pytest.StashKey[Response]()
PLANNED = pytest.StashKey[tuple[str, str]]()  # (request key, prompt hash)
ITEM_PARAM = "nemoeval_item"
OWN_PROPERTIES = ("nemoeval_item", "nemoeval")  # user_properties the plugin attaches to reports
EMBEDDED_JUDGE = "embedded"  # --judge-endpoint embedded: the embedded model is the judge too (smoke runs, tests)


@dataclass(frozen=True)
class ItemRef:
    benchmark: str
    sample_index: int
    repeat: int


@dataclass
class PreparedSuite:
    suite: Suite
    rows: Rows
    repeats: int
    generation: dict[str, Any]
    module_file: Path

    @property
    def module_dir(self) -> Path:
        return self.module_file.parent


def item_ref(item: pytest.Item) -> ItemRef | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get(ITEM_PARAM) if callspec is not None else None


class NemoEvalSession:
    def __init__(self, config: pytest.Config, run: RunConfig) -> None:
        self.config = config
        self.run = run
        self.workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
        self.run_id: str = self.workerinput["nemoeval_run_id"] if self.workerinput else uuid.uuid4().hex[:12]
        self.results_dir = Path(self.workerinput["nemoeval_results_dir"] if self.workerinput
                                else Path(run.results_dir).resolve())
        self.prepared: dict[str, PreparedSuite] = {}
        self.data_errors: list[str] = []
        self.items: list[pytest.Item] = []
        self.endpoint: Endpoint | None = None
        self.model: str | None = None
        self.deployment: Deployment | None = None if self.workerinput else deployment_from(
            run.section("deployment"), run.model, run.endpoint, run.parallelism)
        self.server: ServerProcess | None = None
        self.store: ResponseStore | None = None
        self.engine: EngineProcess | None = None
        self.collector = None if self.workerinput else ResultsCollector(self.results_dir, self.run_id)
        self.failures = 0
        self.gate_failures: list[GateFailure] = []
        self.results_path: Path | None = None
        self.benchmarks: dict[str, dict[str, Any]] = {}

    @property
    def is_worker(self) -> bool:
        return self.workerinput is not None

    # -- collection ---------------------------------------------------------------------------------

    def parametrize(self, metafunc: pytest.Metafunc) -> None:
        suite = getattr(metafunc.module, "suite", None)
        if ITEM_PARAM not in metafunc.fixturenames:
            return
        if not isinstance(suite, Suite):
            self.data_errors.append(f"{metafunc.module.__name__}: {metafunc.function.__name__} uses the nemoeval "
                                    "fixtures but the module defines no `suite = Suite(...)`")
            metafunc.parametrize(ITEM_PARAM, [])
            return
        module_file = Path(str(metafunc.module.__file__))
        if not may_select(self.config.option.keyword or "", module_file, metafunc.function.__name__):
            metafunc.parametrize(ITEM_PARAM, [])  # -k leaves this suite out: its data is never loaded
            return
        prepared = self.prepare(suite, module_file)
        skips: dict[str, pytest.MarkDecorator] = {}  # one mark per reason, shared by its items
        refs, ids = [], []
        for index, repeat, item_id, reason in suite.items(prepared.rows, prepared.repeats):
            ref = ItemRef(suite.name, index, repeat)
            if reason and reason not in skips:
                skips[reason] = pytest.mark.skip(reason=reason)
            refs.append(pytest.param(ref, marks=skips[reason]) if reason else ref)
            ids.append(item_id)
        metafunc.parametrize(ITEM_PARAM, refs, ids=ids)
        module = metafunc.definition.getparent(pytest.Module)
        if module is not None and module.get_closest_marker("nemoeval") is None:
            module.add_marker("nemoeval")  # on the module, not on each of thousands of items

    def prepare(self, suite: Suite, module_file: Path) -> PreparedSuite:
        if suite.name in self.prepared:
            return self.prepared[suite.name]
        rows = Rows([])
        try:
            rows = suite.load_rows(self.run.data_dir, self.run.limit_for(suite.name),
                                   self.run.benchmark(suite.name).get("data"))
        except DataError as exc:
            self.data_errors.append(f"{suite.name}: {exc}")
        except OSError as exc:
            self.data_errors.append(f"{suite.name}: cannot read data: {exc}")
        prepared = PreparedSuite(suite, rows, self.run.repeats_for(suite.name, suite.repeats),
                                 self.run.generation_for(suite.name, suite.generation), module_file)
        self.prepared[suite.name] = prepared
        return prepared

    def collection_finish(self, session: pytest.Session) -> None:
        try:
            if self.data_errors:
                raise pytest.UsageError(self.data_errors[0])
            self.check_benchmark_names()
            # a skipped item needs no response: it is not in the plan
            self.items = [item for item in session.items
                          if item_ref(item) is not None and item.get_closest_marker("skip") is None]
            selected = sorted({item_ref(item).benchmark for item in self.items})  # type: ignore[union-attr]
            self.check_requirements(selected)
        except pytest.UsageError as exc:
            if self.workerinput is not None:  # the controller re-raises it: one line, exit status 4
                self.config.workeroutput["nemoeval_usage_error"] = str(exc)  # type: ignore[attr-defined]
            raise
        for position, item in enumerate(self.items):
            item.stash[POSITION] = position
        if self.config.option.collectonly:
            self.show_configuration()
            return
        if self.items:
            self.check_judge(selected)
            self.start_generation()

    def known_benchmarks(self) -> set[str]:
        """Suites collected, plus suite modules beside them (test_<name>.py) that -k or paths left out."""
        known = set(self.prepared)
        for directory in {prepared.module_dir for prepared in self.prepared.values()}:
            known |= {path.stem.removeprefix("test_") for path in directory.glob("test_*.py")}
        return known

    def check_benchmark_names(self) -> None:
        if not self.prepared:
            return
        known = self.known_benchmarks()
        named = [(threshold.benchmark, "--threshold/recipe threshold") for threshold in self.run.thresholds]
        named += [(name, "recipe benchmarks") for name in self.run.tree.get("benchmarks") or {}]
        for name, where in named:
            if name not in known:
                raise pytest.UsageError(f"unknown benchmark '{name}' in {where} (known: {', '.join(sorted(known))})")

    def check_requirements(self, selected: list[str]) -> None:
        """The packages a selected suite's scorer imports are installed (found, not imported: lazy)."""
        for name in selected:
            for module, requirement in self.prepared[name].suite.requires.items():
                if not installed(module):
                    raise pytest.UsageError(f"{name} needs the package {module}: pip install '{requirement}'")

    def show_configuration(self) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("nemoeval configuration: " + json.dumps(self.run.as_dict(), sort_keys=True))
            if self.deployment is not None:  # the dry run of a deployment: what would start, not started
                reporter.write_line("nemoeval server: " + json.dumps(self.deployment.summary(), sort_keys=True))

    # -- endpoint and generation ------------------------------------------------------------------

    def start_server(self) -> ServerProcess:
        """The one server of the run (controller or only process): --deploy, or the embedded model."""
        assert self.deployment is not None
        if self.server is None:
            self.server = self.deployment.server(self.results_dir / "logs" / "server.log")
            atexit.register(self.server.stop)
            self.server.start(self.deployment.timeout)
        return self.server

    def connect(self) -> Endpoint:
        if self.endpoint is None:
            if self.deployment is None:
                url, model = self.run.endpoint, self.run.model
            else:
                url, model = self.start_server().base_url, self.deployment.served_name
            explicit_key_env = self.run.api_key_env != "OPENAI_API_KEY"
            self.endpoint = connect(url, model, self.run.api_key_env, explicit_key_env)
            self.model = self.endpoint.model
        return self.endpoint

    def configure_node(self, node: Any) -> None:
        """xdist controller: one endpoint, one engine and one store for every worker."""
        node.workerinput["nemoeval_run_id"] = self.run_id
        node.workerinput["nemoeval_results_dir"] = str(self.results_dir)
        if not self.config.option.collectonly:
            node.workerinput["nemoeval_model"] = self.connect().model

    def store_path(self) -> Path:
        name = "cache.sqlite" if self.run.cache else f"run-{self.run_id}.sqlite"
        return self.results_dir / ".nemoeval" / name

    def open_store(self) -> ResponseStore:
        from pytest_nemoeval.engine.store import ResponseStore

        if self.store is None:
            self.store = ResponseStore(self.store_path(), self.run_id)
        return self.store

    def start_generation(self) -> None:
        """Publish every selected item's request (the plan); the controller, or the only process, sends it."""
        model = self.workerinput["nemoeval_model"] if self.workerinput else self.connect().model
        self.model = model
        self.open_store().publish_plan(self.request_for(item_ref(item), model) for item in self.items)
        if not self.is_worker:
            self.start_engine()

    def check_judge(self, selected: list[str]) -> None:
        """A selected suite graded by a judge: its endpoint, model and key must work before anything is sent."""
        judged = [name for name in selected if self.prepared[name].suite.judge]
        if not judged:
            return
        judge = self.run.section("judge")
        if judge["endpoint"] == EMBEDDED_JUDGE:  # the run's own server, started and checked for the model
            if not self.is_worker and (self.deployment is None or self.deployment.backend != "embedded"):
                raise pytest.UsageError("--judge-endpoint embedded grades with the embedded model: "
                                        "drop --endpoint/--deploy, or give the judge's URL")
            return
        if not os.environ.get(judge["api_key_env"]):
            raise pytest.UsageError(
                f"{', '.join(judged)} is graded by a judge model and the environment variable {judge['api_key_env']} "
                f"is not set: export the judge's API key (or name the variable with --judge-api-key-env)")
        connect(judge["endpoint"], judge["model"], judge["api_key_env"], True, option="--judge-endpoint")

    def lanes(self) -> list[Lane]:
        from pytest_nemoeval.engine.loop import Lane

        endpoint = self.connect()
        judge = self.run.section("judge")
        judge_url, judge_model = normalize_url(judge["endpoint"]), judge["model"]
        if judge["endpoint"] == EMBEDDED_JUDGE:
            judge_url, judge_model = endpoint.base_url, endpoint.model
        return [Lane("model", endpoint.base_url, self.run.api_key_env, self.run.parallelism),
                Lane("judge", judge_url, judge["api_key_env"], judge["parallelism"], judge_model)]

    def start_engine(self) -> None:
        from pytest_nemoeval.engine.process import EngineProcess

        if self.engine is not None:
            return
        verbosity = self.config.get_verbosity()
        self.engine = EngineProcess(
            self.open_store(), lanes=self.lanes(), request_timeout=self.run.request_timeout,
            max_retries=self.run.max_retries, stderr=_terminal_fd(self.config), settings=self.run.as_dict(),
            progress_interval=0.0 if verbosity <= -2 else (30.0 if verbosity < 0 else 5.0))
        self.engine.start()
        if self.server is not None:  # its death mid-run fails the remaining items with its log tail
            self.server.watch(self.engine.close)

    def node_down(self, node: Any) -> None:
        """xdist controller: a worker stopped on bad input (data, names): report its one line as ours."""
        message = (getattr(node, "workeroutput", None) or {}).get("nemoeval_usage_error")
        if message:
            raise pytest.UsageError(message)

    def node_collection_finished(self) -> None:
        """xdist controller: the first worker to finish collecting has published the plan; send it."""
        if not self.config.option.collectonly and self.open_store().plan_size():
            self.start_engine()

    def request_for(self, ref: ItemRef | None, model: str) -> tuple[str, str, dict[str, Any]]:
        """(request key, prompt hash, payload) of one item: a row of the plan."""
        assert ref is not None
        prepared = self.prepared[ref.benchmark]
        suite, row = prepared.suite, prepared.rows[ref.sample_index]
        messages = suite.messages(row, prepared.generation.get("system_prompt"))
        if suite.driver is None:
            payload = build_payload(messages, model, prepared.generation, ref.repeat)
            return request_key(payload, ref.repeat), prompt_hash(messages), payload
        from pytest_nemoeval.engine.drivers import DriverRow

        driver = DriverRow(str(prepared.module_file), suite.driver.__name__, row, messages, model,
                           prepared.generation, ref.repeat).payload()
        # the key names the driver by module and function, not by path: a moved checkout keeps its cache
        identity = {**driver, "driver": f"{prepared.module_file.name}:{suite.driver.__name__}"}
        return request_key(identity, ref.repeat), prompt_hash(messages), driver

    def response_for(self, item: pytest.Item) -> Response:
        """The `response` fixture: wait for this item's response (identify() hands it over if it is ready)."""
        from pytest_nemoeval.engine.store import wait_for

        if self.store is None:
            pytest.fail("no generation is running for this item", pytrace=False)
        try:
            body = wait_for(self.store, item.stash[PLANNED][0])
        except EndpointDown as exc:
            failure = str(exc)
            item.session.shouldstop = failure  # the rest would fail for the same reason
        except GenerationError as exc:
            failure = str(exc)
        else:
            failure = None
        if failure is not None:
            pytest.fail(failure, pytrace=False)
        response = item.stash[RESPONSE] = Response.from_body(body)
        return response

    def sample_for(self, ref: ItemRef) -> dict[str, Any]:
        return self.prepared[ref.benchmark].rows[ref.sample_index]

    # -- items --------------------------------------------------------------------------------------

    def identify(self, item: pytest.Item) -> None:
        ref = item_ref(item)
        if ref is None:
            return
        prepared = self.prepared[ref.benchmark]
        row = prepared.rows[ref.sample_index]
        item.user_properties.append(("nemoeval_item", {
            "benchmark": ref.benchmark, "sample_index": ref.sample_index, "repeat": ref.repeat,
            "sample_id": prepared.suite.sample_id(row, ref.sample_index),
            "repeats": prepared.repeats, "primary_metric": prepared.suite.primary_metric, "model": self.model,
            "suite_file": str(prepared.module_file)}))
        if self.store is None or POSITION not in item.stash:  # no generation, or a skipped item
            return
        item.stash[PLANNED] = self.store.planned(item.stash[POSITION])
        # What cannot fail is handed over ready-made: `sample`, `verdict`, and `response` when it is already
        # in the store (the usual case: the engine runs ahead). pytest then skips those fixture functions,
        # each of which costs a fifth of a plain item. Same values as the fixtures give.
        funcargs = getattr(item, "funcargs", None)
        if funcargs is not None and not funcargs:
            recorded = item.stash[VERDICT] = Verdict()
            funcargs.update(sample=row, verdict=recorded)
            body = self.store.get(item.stash[PLANNED][0])
            if body is not None:
                funcargs["response"] = item.stash[RESPONSE] = Response.from_body(body)

    def release(self, item: pytest.Item) -> None:
        """Drop what an item holds (pytest keeps every item until the end of the run)."""
        for key in (VERDICT, RESPONSE, PLANNED):
            _pop(item.stash, key)
        item.user_properties[:] = [entry for entry in item.user_properties if entry[0] not in OWN_PROPERTIES]

    def slim(self, report: pytest.TestReport) -> None:
        """Once the collector has the record (controller or single process), the report need not carry it."""
        if self.collector is not None and any(name in OWN_PROPERTIES for name, _ in report.user_properties):
            report.user_properties = [entry for entry in report.user_properties if entry[0] not in OWN_PROPERTIES]

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
            "verdict": "correct" if verdict.correct else "incorrect",
            "finish_reason": response.finish_reason if response else None,
            "tokens": response.completion_tokens if response else None,
            "latency": response.latency if response else None,
        }
        item.user_properties.append(("nemoeval", record))
        if self.run.fail_incorrect and not verdict.correct:
            pytest.fail(f"incorrect: expected {record['expected']!r}, extracted {record['extracted']!r}",
                        pytrace=False)

    def collect_report(self, report: pytest.TestReport) -> None:
        if self.collector is None:
            return
        if report.failed:
            self.failures += 1
            maxfail = self.config.option.maxfail
            if self.engine is not None and maxfail and self.failures >= maxfail:
                self.engine.close(f"generation stopped after {self.failures} failed item(s) (-x/--maxfail)")
        properties = dict(report.user_properties)
        ident = properties.get("nemoeval_item")
        if ident is None or report.skipped:
            return
        record = properties.get("nemoeval")
        if report.when == "call" or (report.when == "setup" and report.failed):
            self.model = self.model or ident.get("model")
            error = None if record is not None else _one_line(report)
            self.collector.add(ident, record, error, self.store)

    # -- end of run ---------------------------------------------------------------------------------

    def finish(self, session: pytest.Session) -> None:
        if self.engine is not None:
            self.engine.close()
        try:
            if self.collector is not None:
                self.write_results(session)
        finally:
            if self.server is not None:
                self.server.stop()
            if self.store is not None:
                if not self.is_worker:
                    self.store.forget_run()
                self.store.close()
            if not self.run.cache and not self.is_worker:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.store_path()}{suffix}").unlink(missing_ok=True)

    def write_results(self, session: pytest.Session) -> None:
        assert self.collector is not None
        if not self.collector.tallies or session.exitstatus == pytest.ExitCode.USAGE_ERROR:
            self.collector.discard()
            return
        benchmarks: dict[str, dict[str, Any]] = {}
        for name, tally in sorted(self.collector.tallies.items()):
            outcomes = tally.outcomes()
            own = load_suite_module(tally.suite_file).suite.metrics
            metrics = benchmark_metrics(self.config.hook, name, outcomes, tally.repeats, own)
            benchmarks[name] = {
                "samples": len(tally.seen), "repeats": tally.repeats, "items": tally.items, "errors": tally.errors,
                "primary_metric": tally.primary_metric, "metrics": _rounded(metrics), "thresholds": []}
        self.gate_failures = evaluate(self.run.thresholds, benchmarks)
        self.benchmarks = benchmarks
        document = {
            "schema": "pytest-nemoeval/results/1",
            "model": self.model,
            "endpoint": self.endpoint.base_url if self.endpoint else normalize_url(self.run.endpoint or ""),
            "config": self.run.as_dict(),
            "provenance": self.provenance(),
            "benchmarks": benchmarks,
            "gate": {"passed": not self.gate_failures, "failures": [failure.message for failure in self.gate_failures]},
        }
        self.results_path = self.collector.finish(document)
        if self.gate_failures and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def provenance(self) -> dict[str, Any]:
        assert self.collector is not None
        document = provenance(__version__, self.collector.started)
        if self.deployment is not None and self.server is not None:
            document["deployment"] = self.deployment.summary(self.server.command)
        return document

    def summary_rows(self) -> list[str]:
        rows = []
        for name, entry in self.benchmarks.items():
            metric = entry["metrics"].get(entry["primary_metric"], {})
            low, high = metric.get("ci95", [0.0, 0.0])
            checks = entry.get("thresholds") or []
            gate = "no threshold" if not checks else ("passed" if all(c["passed"] for c in checks) else "FAILED")
            rows.append(f"{name}: {entry['primary_metric']} {metric.get('value', 0.0):.4f} "
                        f"(95% CI {low:.4f}-{high:.4f}, stderr {metric.get('stderr', 0.0):.4f})  "
                        f"samples={entry['samples']} items={entry['items']} errors={entry['errors']}  gate: {gate}")
        return rows


def _terminal_fd(config: pytest.Config) -> int:
    """The real stderr, also while pytest captures fd 2 (its saved copy), for the engine's status line."""
    capman = config.pluginmanager.get_plugin("capturemanager")
    err = getattr(getattr(capman, "_global_capturing", None), "err", None)
    saved = getattr(err, "targetfd_save", None)
    return saved if isinstance(saved, int) else 2


def _pop(stash: pytest.Stash, key: pytest.StashKey[Any]) -> Any:
    value = stash.get(key, None)
    if value is not None:
        del stash[key]
    return value


def _rounded(metrics: dict[str, Any]) -> dict[str, Any]:
    def rnd(value: Any) -> Any:
        if isinstance(value, float):
            return round(value, 6)
        if isinstance(value, list):
            return [rnd(v) for v in value]
        if isinstance(value, dict):
            return {k: rnd(v) for k, v in value.items()}
        return value

    return {name: rnd(values) for name, values in metrics.items()}


def _one_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message).splitlines()[0][:500]
    lines = [line for line in str(report.longrepr).strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "error")[:500]
