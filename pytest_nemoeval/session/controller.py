"""ControllerPlugin: the endpoint (or the server it starts), the one generation engine, results.json and the
gate. Registered in the only process, or in the xdist controller (which never collects: the workers do)."""

from __future__ import annotations

import atexit
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generator

import pytest

from pytest_nemoeval import flock
from pytest_nemoeval.config import RunConfig
from pytest_nemoeval.endpoint import Endpoint, connect, normalize_url
from pytest_nemoeval.report.junit import add_junit_properties
from pytest_nemoeval.report.terminal import write_scores
from pytest_nemoeval.results import ResultsCollector, ResultsDocument, run_provenance
from pytest_nemoeval.servers import Deployment, ServerProcess, deployment_from
from pytest_nemoeval.session import interrupt
from pytest_nemoeval.session.items import OWN_PROPERTIES
from pytest_nemoeval.session.lanes import run_lanes

if TYPE_CHECKING:
    from pytest_nemoeval.engine.loop import Lane
    from pytest_nemoeval.engine.process import EngineProcess
    from pytest_nemoeval.session.status import StatusDisplay
    from pytest_nemoeval.engine.store import ResponseStore


class ControllerPlugin:
    def __init__(self, config: pytest.Config, run: RunConfig) -> None:
        self.config = config
        self.run = run
        self.run_id = uuid.uuid4().hex[:12]
        self.results_dir = Path(run.results_dir).resolve()
        self.deployment: Deployment | None = deployment_from(run.section("deployment"), run.model, run.endpoint,
                                                             run.parallelism)
        self.server: ServerProcess | None = None
        self.endpoint: Endpoint | None = None
        self.store: ResponseStore | None = None
        self.engine: EngineProcess | None = None
        self.collector = ResultsCollector(self.results_dir, self.run_id)
        self.results = ResultsDocument(config.hook, run)
        self.failures = 0
        self.status: StatusDisplay | None = None  # the engine's status line on the terminal
        self.exported: list[str] = []  # what each export wrote, one line each
        self.lock: flock.HeldLock | None = None  # the results directory is this run's while it runs
        self.interrupted: str | None = None  # the signal that stopped the run (Ctrl-C, SIGTERM)
        self.shard: dict[str, Any] | None = None  # --shard: this job's part of the selection (ItemsPlugin)

    # -- the role the items see (ItemsPlugin.role, without xdist) ------------------------------------

    def served_model(self) -> str:
        return self.connect().model

    def endpoint_url(self) -> str:
        return self.connect().base_url

    def open_store(self) -> ResponseStore:
        """The run's store, once it has items to send (also under xdist): the results directory is then this run's."""
        from pytest_nemoeval.engine.store import ResponseStore

        if self.store is None:
            self.store = ResponseStore(self.store_path(), self.run_id)
            self.lock = _claim(self.results_dir, self.store)
        return self.store

    def plan_published(self) -> None:
        self.start_engine()

    def runs_embedded_model(self) -> bool:
        return self.deployment is not None and self.deployment.backend == "embedded"

    def show_progress(self, waiting: pytest.Item | None = None, final: bool = False) -> None:
        if self.status is not None:
            self.status.show(waiting, final)

    def usage_error(self, message: str) -> None:
        """The only process reports its own usage errors (pytest prints the one line)."""

    def shard_selected(self, shard: dict[str, Any]) -> None:
        self.shard = shard

    def show_configuration(self) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("nemoeval configuration: " + json.dumps(self.run.as_dict(), sort_keys=True))
            if self.deployment is not None:  # the dry run of a deployment: what would start, not started
                reporter.write_line("nemoeval server: " + json.dumps(self.deployment.summary(), sort_keys=True))

    # -- endpoint and generation ----------------------------------------------------------------------

    def start_server(self) -> ServerProcess:
        """The one server of the run: --deploy, or the embedded model."""
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
            self.results.model = self.endpoint.model
        return self.endpoint

    def store_path(self) -> Path:
        from pytest_nemoeval.engine.store import store_path

        return store_path(self.results_dir, self.run_id, self.run.cache)

    def lanes(self) -> list[Lane]:
        from pytest_nemoeval.servers.embedded import MAX_REPLY

        return run_lanes(self.run, self.connect(), MAX_REPLY if self.runs_embedded_model() else None)

    def start_engine(self, first: int = 0) -> None:
        """The run's engine; `first` > 0: another one, for the requests appended from that position (the last one
        has finished: until_decided.py)."""
        from pytest_nemoeval.engine.process import EngineProcess
        from pytest_nemoeval.engine.store import status_path
        from pytest_nemoeval.session.status import StatusDisplay

        if self.engine is not None and not first:
            return
        verbosity = self.config.get_verbosity()
        if self.status is None and verbosity > -2 and self.config.pluginmanager.get_plugin("terminalreporter"):
            self.status = StatusDisplay(self.config, status_path(self.results_dir, self.run_id),
                                        30.0 if verbosity < 0 else 5.0)
        self.engine = EngineProcess(
            self.open_store(), lanes=self.lanes(), request_timeout=self.run.request_timeout,
            max_retries=self.run.max_retries, stderr=_terminal_fd(self.config), settings=self.run.as_dict(),
            status=(self.status.line.path, self.status.line.interval) if self.status is not None else None, first=first)
        self.engine.start()
        if self.server is not None:  # its death mid-run fails the remaining items with its log tail
            self.server.watch(self.engine.close)

    # -- xdist: one endpoint, one engine and one store for every worker -------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["nemoeval_run_id"] = self.run_id
        node.workerinput["nemoeval_results_dir"] = str(self.results_dir)
        node.workerinput["nemoeval_embedded"] = self.runs_embedded_model()
        if not self.config.option.collectonly:
            node.workerinput["nemoeval_model"] = self.connect().model
            node.workerinput["nemoeval_base_url"] = self.connect().base_url

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """The first worker to finish collecting has published the plan: send it."""
        if not self.config.option.collectonly and self.open_store().plan_size():
            self.start_engine()

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """A worker stopped on bad input (data, names): report its one line as ours."""
        output = getattr(node, "workeroutput", None) or {}
        self.shard = self.shard or output.get("nemoeval_shard")  # every worker selected the same part
        message = output.get("nemoeval_usage_error")
        if message:
            raise pytest.UsageError(message)

    # -- reports --------------------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> Generator[None, Any, Any]:
        self.collect(report)
        if self.status is not None:
            self.status.reopen()
        try:
            return (yield)  # pytest's reporter shows the item, then the status line, if due, on its own line
        finally:
            self.show_progress()
            # once the collector has the record, the report (which pytest keeps) need not carry it
            if any(name in OWN_PROPERTIES for name, _ in report.user_properties):
                report.user_properties = [entry for entry in report.user_properties
                                          if entry[0] not in OWN_PROPERTIES]

    def collect(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.failures += 1
            maxfail = self.config.option.maxfail
            if self.engine is not None and maxfail and self.failures >= maxfail:
                self.engine.close(f"generation stopped after {self.failures} failed item(s) (-x/--maxfail)")
        properties = dict(report.user_properties)
        ident = properties.get("nemoeval_item")
        if ident is None:
            return
        if report.skipped and report.when == "setup":  # a reason stated before sending: out of the metrics
            self.collector.skip(ident)
            return
        record = properties.get("nemoeval")
        if report.when == "call" or (report.when == "setup" and report.failed):
            self.results.model = self.results.model or ident.get("model")
            error = None if record is not None else _one_line(report)
            self.collector.add(ident, record, error, self.store)

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config) -> Any:
        if report.when != "call" or not report.passed:
            return None
        record = dict(report.user_properties).get("nemoeval")
        if record is None:
            return None
        if record["verdict"] == "ungraded":  # graded with the whole run (Suite.run_grader)
            return "ungraded", "u", "UNGRADED"
        if record["correct"]:
            return "correct", ".", "CORRECT"
        return "incorrect", "i", "INCORRECT"

    # -- end of run -----------------------------------------------------------------------------------

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self.interrupted = interrupt.received()  # None: xdist's stop on a worker's word, not a signal

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.engine is not None:
            self.engine.close("the run was interrupted" if self.interrupted else "generation was cancelled")
            self.show_progress(final=True)
            if self.status is not None:
                self.status.line.remove()
        try:
            if self.interrupted:  # a partial run is no result: what was answered waits in the cache
                self.collector.discard()
                answered = sum(tally.items for tally in self.collector.tallies.values())
                print(interrupt.summary(self.interrupted, answered, self.store_path() if self.run.cache else None),
                      file=sys.stderr, flush=True)
            elif (not self.collector.tallies and self.run.shard is None  # a job's empty part is a part all the same
                  or session.exitstatus == pytest.ExitCode.USAGE_ERROR or self.config.option.collectonly):
                self.collector.discard()
            else:
                deployment = (self.deployment.summary(self.server.command)
                              if self.deployment is not None and self.server is not None else None)
                endpoint = self.endpoint.base_url if self.endpoint else normalize_url(self.run.endpoint or "")
                shard = (self.results.shard_record(self.collector, self.shard, _stopped(self.store, self.failures,
                                                                                        self.config.option.maxfail))
                         if self.run.shard else None)
                status = self.results.write(self.collector, endpoint,
                                            run_provenance(self.collector.started, deployment), shard)
                add_junit_properties(self.config, self.results.benchmarks, not self.results.gate_failures,
                                     self.results.aggregates)
                if session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and shard is not None:
                    session.exitstatus = pytest.ExitCode.OK  # the other jobs have the items
                if self.run.section("export")["to"] and shard is None and not self.export():
                    status = status or 1  # a job's part is not the run: `merge` gates and exports the whole
                if status and shard is None and session.exitstatus == pytest.ExitCode.OK:  # 1, or INCONCLUSIVE's
                    session.exitstatus = pytest.ExitCode.TESTS_FAILED if status == 1 else status
        finally:
            if self.server is not None:
                self.server.stop()
            if self.store is not None:
                self.store.forget_run()
                self.store.close()
            if not self.run.cache:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.store_path()}{suffix}").unlink(missing_ok=True)
            if self.store is not None:
                self.store.engine_lock_path().unlink(missing_ok=True)
            if self.lock is not None:
                self.lock.release()

    def export(self) -> bool:
        """The run's exports (--export, recipe `export:`), after results.json is written: a failed one is one
        `ERROR:` line and fails the run, and never touches results.json."""
        from pytest_nemoeval.export import run_exports

        self.exported, errors = run_exports(self.results_dir, self.run.section("export"))
        for error in errors:
            print(f"ERROR: {error}", file=sys.stderr, flush=True)
        return not errors

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        overflows = {name: (tally.context_overflow, tally.first_overflow)
                     for name, tally in self.collector.tallies.items() if tally.context_overflow}
        write_scores(terminalreporter, self.results, self.exported, self.config.get_verbosity() > 0, overflows)


def _stopped(store: ResponseStore | None, failures: int, maxfail: int) -> str | None:
    """Why generation stopped before the end, if it did (the endpoint died, -x/--maxfail): the items it failed
    are the job's failure, not the model's, so `merge` takes the job as incomplete."""
    from pytest_nemoeval.engine.store import DEAD

    failure = store.failure(DEAD) if store is not None else None
    if failure is not None and failure[0] == DEAD:
        return failure[1]
    return f"stopped after {failures} failed item(s) (-x/--maxfail)" if maxfail and failures >= maxfail else None


def _claim(results_dir: Path, store: ResponseStore) -> flock.HeldLock:
    """One run at a time writes a results directory: another is refused before it sends anything (items a
    worker already waits for fail at once). A session without benchmark items claims nothing."""
    from pytest_nemoeval.engine.store import STOPPED

    path = results_dir / ".nemoeval" / "run.lock"
    lock = flock.try_hold(path, f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}")
    if lock is None:
        message = (f"--results-dir {results_dir} is in use by another run ({flock.holder(path)}): wait for it to "
                   "end, or pass another --results-dir")
        store.fail(STOPPED, message)
        raise pytest.UsageError(message)
    return lock


def _terminal_fd(config: pytest.Config) -> int:
    """The real stderr, also while pytest captures fd 2, for the engine's status line. pytest has no public
    way to reach the terminal while it captures: this reads the capture manager's saved copy of fd 2."""
    capman = config.pluginmanager.get_plugin("capturemanager")
    err = getattr(getattr(capman, "_global_capturing", None), "err", None)
    saved = getattr(err, "targetfd_save", None)
    return saved if isinstance(saved, int) else 2


def _one_line(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple):  # (path, line, reason): the scorer skipped after the response came
        return f"skipped after its request was sent: {report.longrepr[2]}"[:500]
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:  # pytest.fail(reason) reads "Failed: reason": the reason is the plugin's own line
        return (str(crash.message).removeprefix("Failed: ").splitlines() or ["error"])[0][:500]
    lines = [line for line in str(report.longrepr).strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "error")[:500]
