"""Exports of a finished run (its results.json and samples) to where teams keep results: MLflow, Weights &
Biases, NeMo Evaluator's results layout. Configured with --export / recipe `export:`, or run later with
`python -m pytest_nemoeval export DIR --to TARGET`. An export reads results.json and never writes it."""

from __future__ import annotations

import importlib
import json
import re
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

TARGETS = ("mlflow", "wandb", "nemo-evaluator")
# target -> (module it imports, what to install); nemo-evaluator's layout needs only pyyaml
LIBRARIES = {"mlflow": ("mlflow", "pytest-nemoeval[mlflow]"), "wandb": ("wandb", "pytest-nemoeval[wandb]")}
MODULES = {"mlflow": "mlflow_run", "wandb": "wandb_run", "nemo-evaluator": "nemo_evaluator"}


class ExportError(Exception):
    """An export that could not be done: one line saying why."""


def check_target(target: str, where: str) -> str:
    from pytest_nemoeval.suite import installed

    if target not in TARGETS:
        raise ExportError(f"{where} {target}: unknown export target (known: {', '.join(TARGETS)})")
    module, extra = LIBRARIES.get(target, (None, None))
    if module is not None and not installed(module):
        raise ExportError(f"{where} {target} needs the {module} package: pip install '{extra}'")
    return target


def targets(value: Any) -> list[str]:
    """The --export / recipe `export.to` converter: known targets whose library is installed."""
    names = [value] if isinstance(value, str) else list(value or [])
    try:
        return [check_target(str(name), "--export") for name in names]
    except ExportError as exc:
        raise pytest.UsageError(str(exc)) from None


def read_run(results_dir: Path) -> dict[str, Any]:
    path = results_dir / "results.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExportError(f"{results_dir} has no results.json: is it a finished run's --results-dir?") from None
    except (OSError, ValueError) as exc:
        raise ExportError(f"{path} cannot be read: {exc}") from None


def export(results_dir: Path, target: str, settings: dict[str, Any]) -> str:
    """Export the run in results_dir; what was written, in one line. Raises ExportError (one line) on failure."""
    check_target(target, "export to")
    document = read_run(results_dir)
    module = importlib.import_module(f"pytest_nemoeval.export.{MODULES[target]}")
    try:
        with warnings.catch_warnings():  # a library's deprecation warnings are not the run's
            warnings.simplefilter("ignore")
            return f"{target}: {module.export(results_dir, document, settings)}"
    except ExportError as exc:
        raise ExportError(f"export to {target} failed: {exc}") from None
    except Exception as exc:  # the library's own error, whatever its type: one line, results.json kept
        first = re.sub(r"(\w+://)[^/@\s]+@", r"\1", (str(exc).strip().splitlines() or [""])[0])[:300]  # no password
        raise ExportError(f"export to {target} failed: {type(exc).__name__}: {first}") from None


def run_exports(results_dir: Path, settings: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Every export of settings["to"]: (what each successful one wrote, the error line of each failed one)."""
    done, errors = [], []
    for target in settings.get("to") or []:
        try:
            done.append(export(results_dir, target, settings))
        except ExportError as exc:
            errors.append(str(exc))
    return done, errors


def without_password(uri: str) -> str:
    """A URI as shown in messages: user and password left out."""
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    return urlunsplit(parts._replace(netloc=host + (f":{parts.port}" if parts.port else "")))


def flat(tree: Any, prefix: str = "") -> dict[str, str]:
    """A nested configuration as dotted keys with string values (MLflow params, W&B config)."""
    if isinstance(tree, dict):
        items: dict[str, str] = {}
        for key, value in tree.items():
            items.update(flat(value, f"{prefix}.{key}" if prefix else str(key)))
        return items
    return {prefix: json.dumps(tree) if isinstance(tree, (list, tuple)) else str(tree)} if prefix else {}


def metric_values(document: dict[str, Any], benchmark: str, safe: bool) -> dict[str, float]:
    """One benchmark's metrics with their stderr and CI bounds, and per category, as flat numeric keys:
    `accuracy`, `accuracy.stderr`, `accuracy.ci95_low`, `accuracy.ci95_high`, `category/<name>/pass@1`...
    `safe`: `@` written as `_at_` (MLflow refuses it in keys)."""
    entry = document["benchmarks"][benchmark]
    values: dict[str, float] = {}

    def add(prefix: str, metrics: dict[str, Any]) -> None:
        for name, summary in metrics.items():
            key = prefix + (name.replace("@", "_at_") if safe else name)
            if isinstance(summary.get("value"), (int, float)):
                values[key] = float(summary["value"])
            if isinstance(summary.get("stderr"), (int, float)):
                values[f"{key}.stderr"] = float(summary["stderr"])
            if isinstance(summary.get("ci95"), list) and len(summary["ci95"]) == 2:
                values[f"{key}.ci95_low"], values[f"{key}.ci95_high"] = map(float, summary["ci95"])

    add("", entry["metrics"])
    for category, group in ((entry.get("categories") or {}).get("by") or {}).items():
        add(f"category/{_key(category)}/", group["metrics"])
    return values


def _key(text: str) -> str:
    return "".join(character if character.isalnum() or character in "_-. " else "_" for character in text)
