"""Hook specifications of pytest-nemoeval (added with `pluginmanager.add_hookspecs`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_nemoeval.metrics import SampleOutcome


@pytest.hookspec
def pytest_nemoeval_metrics(benchmark: str, outcomes: list[SampleOutcome], repeats: int) -> dict[str, Any] | None:
    """Compute metrics of one benchmark from its per-sample outcomes.

    `outcomes` has every sample that ran, with every repeat that ran: a repeat that errored
    (`outcome.errored(repeat)`) is incorrect with no answer and counts as a failure, never left out.
    Return a mapping of metric name to `{"value": …, "stderr": …, "ci95": [lo, hi], "samples": n}` (all but
    value optional; `samples`: how many samples the metric covers), or None. The mappings of all
    implementations are merged; values are fractions in [0, 1].
    """
