"""pytest entry point (pytest11): options, hook specifications, fixtures, and one plugin object per role.

Roles (as pytest-xdist's): without xdist the only process collects and controls (ItemsPlugin and
ControllerPlugin); the xdist controller controls (ControllerPlugin); each xdist worker collects (ItemsPlugin
with WorkerPlugin). No benchmark code is registered here: a suite brings its own metrics.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from pytest_nemoeval import config as run_config
from pytest_nemoeval import options
from pytest_nemoeval import hookspecs, metrics
from pytest_nemoeval.report.html import HtmlReport
from pytest_nemoeval.scoring import Response, Verdict
from pytest_nemoeval.session import interrupt
from pytest_nemoeval.session.controller import ControllerPlugin
from pytest_nemoeval.session.items import VERDICT, ItemRef, ItemsPlugin
from pytest_nemoeval.session.until_decided import UntilDecidedPlugin
from pytest_nemoeval.session.worker import WorkerPlugin

ITEMS = pytest.StashKey[ItemsPlugin]()
RESTORE_SIGNALS = pytest.StashKey[Callable[[], None]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "nemoeval: an LLM benchmark item (added by pytest-nemoeval)")
    config.pluginmanager.register(metrics, "nemoeval-metrics")
    run = run_config.resolve(config)
    config.stash[RESTORE_SIGNALS] = interrupt.install()
    if hasattr(config, "workerinput"):
        role: WorkerPlugin | ControllerPlugin = WorkerPlugin(config, run)
        config.pluginmanager.register(role, "nemoeval-worker")
    else:
        role = ControllerPlugin(config, run)
        config.pluginmanager.register(role, "nemoeval-controller")
        config.pluginmanager.register(HtmlReport(config, role.results, role.results_dir), "nemoeval-html")
        if _xdist_controller(config):  # collects nothing: the workers do
            if run.until_decided:
                raise pytest.UsageError("--until-decided runs its extra repeats in the process that runs the items: "
                                        "drop -n/--dist (xdist)")
            return
    items = config.stash[ITEMS] = ItemsPlugin(config, run, role)
    config.pluginmanager.register(items, "nemoeval-items")
    if run.until_decided and isinstance(role, ControllerPlugin):
        config.pluginmanager.register(UntilDecidedPlugin(config, run, role, items), "nemoeval-until-decided")


@pytest.hookimpl(tryfirst=True)
def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    interrupt.drop_lineless_frames(excinfo.tb)  # before pytest's terminal reporter formats it


def pytest_unconfigure(config: pytest.Config) -> None:
    restore = config.stash.get(RESTORE_SIGNALS, None)
    if restore is not None:
        restore()


def _xdist_controller(config: pytest.Config) -> bool:
    """xdist's own test (its private `_is_distribution_mode`), which its trylast pytest_configure applies after
    this one when it registers its DSession; under --collect-only xdist distributes nothing."""
    return (config.pluginmanager.has_plugin("xdist") and not config.getoption("collectonly")
            and config.getoption("dist", "no") != "no" and bool(config.getoption("tx", None)))


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """The scorer of an item that could not fit the context is not called (ItemsPlugin.context_overflow)."""
    items = pyfuncitem.config.stash.get(ITEMS, None)
    return True if items is not None and items.context_overflow(pyfuncitem) else None


def _items(request: pytest.FixtureRequest) -> ItemsPlugin:
    return request.config.stash[ITEMS]


@pytest.fixture
def nemoeval_item() -> ItemRef:
    raise pytest.UsageError("nemoeval_item is provided by a module's `suite = Suite(...)`")


@pytest.fixture
def sample(request: pytest.FixtureRequest, nemoeval_item: ItemRef) -> dict[str, Any]:
    """The dataset row of this item, in the dataset's own schema."""
    return _items(request).sample_for(nemoeval_item)


@pytest.fixture
def response(request: pytest.FixtureRequest, nemoeval_item: ItemRef) -> Response:
    """The model's response to this item (waits only for this item's request)."""
    return _items(request).response_for(request.node)


@pytest.fixture
def verdict(request: pytest.FixtureRequest) -> Verdict:
    """Record the scorer's judgement: `verdict(correct, answer=..., expected=...)`."""
    recorded = Verdict()
    request.node.stash[VERDICT] = recorded
    return recorded
