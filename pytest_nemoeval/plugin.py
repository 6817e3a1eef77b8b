"""pytest entry point (pytest11): options, fixtures, and hooks forwarded to NemoEvalSession."""

from __future__ import annotations

from typing import Any, Generator

import pytest

from pytest_nemoeval import config as run_config
from pytest_nemoeval import hookspecs, metrics
from pytest_nemoeval.scoring import Response, Verdict
from pytest_nemoeval.session import ITEM_PARAM, VERDICT, ItemRef, NemoEvalSession

_KEY = pytest.StashKey[NemoEvalSession]()


def pytest_addoption(parser: pytest.Parser) -> None:
    run_config.add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "nemoeval: an LLM benchmark item (added by pytest-nemoeval)")
    config.pluginmanager.register(metrics, "nemoeval-metrics")
    session = NemoEvalSession(config, run_config.resolve(config))
    config.stash[_KEY] = session
    config.pluginmanager.register(_SessionHooks(session), "nemoeval-session")


def _session(config: pytest.Config) -> NemoEvalSession:
    return config.stash[_KEY]


class _SessionHooks:
    def __init__(self, session: NemoEvalSession) -> None:
        self.session = session

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        self.session.parametrize(metafunc)

    @pytest.hookimpl(tryfirst=True)  # an xdist worker publishes the plan before it reports collection done
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.session.collection_finish(session)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        self.session.configure_node(node)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        self.session.node_down(node)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.session.node_collection_finished()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.session.identify(item)

    @pytest.hookimpl(wrapper=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Generator[None, Any, Any]:
        result = yield
        self.session.after_scorer(pyfuncitem)
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> Generator[None, Any, Any]:
        self.session.collect_report(report)
        try:
            return (yield)
        finally:
            self.session.slim(report)  # pytest keeps every report

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, Any, Any]:
        try:
            return (yield)
        finally:
            self.session.release(item)

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config) -> Any:
        if report.when != "call" or not report.passed:
            return None
        record = dict(report.user_properties).get("nemoeval")
        if record is None:
            return None
        if record["correct"]:
            return "correct", ".", "CORRECT"
        return "incorrect", "i", "INCORRECT"

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.session.finish(session)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        rows = self.session.summary_rows()
        if not rows:
            return
        terminalreporter.write_sep("=", "nemoeval scores")
        for row in rows:
            terminalreporter.write_line(row)
        for failure in self.session.gate_failures:
            terminalreporter.write_line(f"GATE FAILED: {failure.message}", red=True, bold=True)
        if self.session.results_path is not None:
            terminalreporter.write_line(f"results: {self.session.results_path}")

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str]) -> None:
        import html

        rows = "".join(f"<li>{html.escape(row)}</li>" for row in self.session.summary_rows())
        failures = "".join(f"<li><b>GATE FAILED</b>: {html.escape(f.message)}</li>"
                           for f in self.session.gate_failures)
        if rows:
            prefix.append(f'<div id="nemoeval-scores"><h2>nemoeval scores</h2><ul>{rows}{failures}</ul></div>')


@pytest.fixture
def nemoeval_item() -> ItemRef:
    raise pytest.UsageError("nemoeval_item is provided by a module's `suite = Suite(...)`")


@pytest.fixture
def sample(request: pytest.FixtureRequest, nemoeval_item: ItemRef) -> dict[str, Any]:
    """The dataset row of this item, in the dataset's own schema."""
    return _session(request.config).sample_for(nemoeval_item)


@pytest.fixture
def response(request: pytest.FixtureRequest, nemoeval_item: ItemRef) -> Response:
    """The model's response to this item (waits only for this item's request)."""
    return _session(request.config).response_for(request.node)


@pytest.fixture
def verdict(request: pytest.FixtureRequest) -> Verdict:
    """Record the scorer's judgement: `verdict(correct, answer=..., expected=...)`."""
    recorded = Verdict()
    request.node.stash[VERDICT] = recorded
    return recorded


__all__ = ["ITEM_PARAM"]
