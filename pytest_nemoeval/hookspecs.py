"""Hook specifications of pytest-nemoeval (added with `pluginmanager.add_hookspecs`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_nemoeval.metrics import SampleOutcome


@pytest.hookspec
def pytest_nemoeval_metrics(benchmark: str, outcomes: list[SampleOutcome], repeats: int) -> dict[str, Any] | None:
    """Compute metrics of one benchmark from its per-sample outcomes.

    Return a mapping of metric name to `{"value": …, "stderr": …, "ci95": [lo, hi]}` (stderr and ci95
    optional), or None. The mappings of all implementations are merged; values are fractions in [0, 1].
    """
