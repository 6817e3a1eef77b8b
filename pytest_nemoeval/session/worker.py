"""WorkerPlugin: an xdist worker's side of the run. The controller connected to the endpoint and runs the
engine; the worker learns the served model, run id and store from it, and sends a usage error home."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_nemoeval.config import RunConfig

if TYPE_CHECKING:
    from pytest_nemoeval.engine.store import ResponseStore


class WorkerPlugin:
    def __init__(self, config: pytest.Config, run: RunConfig) -> None:
        self.config = config
        self.run = run
        self.input: dict[str, Any] = config.workerinput  # type: ignore[attr-defined]
        self.store: ResponseStore | None = None

    def served_model(self) -> str:
        return str(self.input["nemoeval_model"])

    def endpoint_url(self) -> str:
        return str(self.input["nemoeval_base_url"])

    def open_store(self) -> ResponseStore:
        """The controller's store: its path follows from the controller's results directory and run id."""
        from pytest_nemoeval.engine.store import ResponseStore, store_path

        if self.store is None:
            run_id = self.input["nemoeval_run_id"]
            self.store = ResponseStore(store_path(Path(self.input["nemoeval_results_dir"]), run_id, self.run.cache),
                                       run_id)
        return self.store

    def plan_published(self) -> None:
        """The controller starts the engine once the first worker has finished collecting."""

    def runs_embedded_model(self) -> bool:
        return bool(self.input.get("nemoeval_embedded"))

    def usage_error(self, message: str) -> None:
        self.config.workeroutput["nemoeval_usage_error"] = message  # type: ignore[attr-defined]

    def shard_selected(self, shard: dict[str, Any]) -> None:
        self.config.workeroutput["nemoeval_shard"] = shard  # type: ignore[attr-defined]

    def show_configuration(self) -> None:
        """--collect-only never reaches workers (xdist collects in the controller then)."""

    def show_progress(self, waiting: pytest.Item) -> None:
        """The controller shows the status line, after the reports the workers send it."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.store is not None:
            self.store.close()
