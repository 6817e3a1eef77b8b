"""The status line on the terminal: the engine's latest line (engine/progress.py StatusLine), written through
pytest's terminal reporter on a line of its own, by the process that owns the terminal (ControllerPlugin)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from pytest_nemoeval.engine.progress import StatusLine


class StatusDisplay:
    """Shows a due status line after pytest's current line. While an item waiting for its response holds
    pytest's line open (its location written, its outcome not yet), that line is begun again when its
    outcome comes (`reopen`, before pytest's reporter shows it), once however many status lines came."""

    def __init__(self, config: pytest.Config, path: Path, interval: float) -> None:
        self.config = config
        self.line = StatusLine(path, interval)
        self._waiting: pytest.Item | None = None

    def show(self, waiting: pytest.Item | None = None, final: bool = False) -> None:
        line = self.line.due(final)
        if line is None:
            return
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        capman = self.config.pluginmanager.get_plugin("capturemanager")
        with capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext():
            writer = self.config.get_terminal_writer()
            reporter.ensure_newline()  # and pytest's next outcome starts a new line with its file name
            if writer.width_of_current_line:  # xdist's outcomes carry no file name: ensure_newline can't tell
                writer.line()
            # pytest begins its next line of outcomes with a newline; xdist's outcomes (letters only) and the
            # end of the run do not
            distributed = self.config.pluginmanager.has_plugin("dsession")
            writer.write(line + ("\n" if final or distributed else ""))
            writer.flush()
        if waiting is not None:
            self._waiting = waiting

    def reopen(self) -> None:
        """Begin again the line of the item that waited under a status line, before its outcome is shown."""
        if self._waiting is not None:
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            reporter.pytest_runtest_logstart(nodeid=self._waiting.nodeid, location=self._waiting.location)
            self._waiting = None
