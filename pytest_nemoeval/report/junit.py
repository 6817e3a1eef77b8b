"""Each benchmark's metrics as test-suite properties of pytest's JUnit XML (`--junitxml`), which CI systems
that read JUnit show: `nemoeval.<benchmark>.<metric>` = value, with `.stderr`, `.ci95_low`, `.ci95_high`."""

from __future__ import annotations

from typing import Any

import pytest


def junit_properties(benchmarks: dict[str, Any], gate_passed: bool) -> list[tuple[str, str]]:
    properties = []
    for name, entry in benchmarks.items():
        properties.append((f"nemoeval.{name}.primary_metric", entry["primary_metric"]))
        properties.append((f"nemoeval.{name}.samples", str(entry["samples"])))
        for metric, summary in entry["metrics"].items():
            key = f"nemoeval.{name}.{metric}"
            properties.append((key, _number(summary.get("value"))))
            if "stderr" in summary:
                properties.append((f"{key}.stderr", _number(summary["stderr"])))
            if "ci95" in summary:
                properties.append((f"{key}.ci95_low", _number(summary["ci95"][0])))
                properties.append((f"{key}.ci95_high", _number(summary["ci95"][1])))
    properties.append(("nemoeval.gate", "passed" if gate_passed else "failed"))
    return properties


def add_junit_properties(config: pytest.Config, benchmarks: dict[str, Any], gate_passed: bool) -> None:
    """Adds them to the run's JUnit report, if --junitxml asked for one (before pytest writes it)."""
    # the junitxml plugin object (pytest's LogXML) is registered without a name; its add_global_property is
    # what the public record_testsuite_property fixture calls
    for plugin in config.pluginmanager.get_plugins():
        add = getattr(plugin, "add_global_property", None)
        if callable(add) and type(plugin).__name__ == "LogXML":
            for name, value in junit_properties(benchmarks, gate_passed):
                add(name, value)
            return


def _number(value: Any) -> str:
    return "" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)
