"""What is checked once the items are collected and before anything is sent: the benchmark names the run gives
(thresholds, recipe), the packages the selected suites' scorers import, the judge of judged suites, the
simulated user of agentic ones and what a suite checks itself (its preflight: the container suites' Docker)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import pytest

from pytest_nemoeval import aggregates
from pytest_nemoeval.config import RunConfig
from pytest_nemoeval.options import EMBEDDED_JUDGE
from pytest_nemoeval.endpoint import connect
from pytest_nemoeval.session.plan import PreparedSuite
from pytest_nemoeval.suite import installed


def check_benchmark_names(run: RunConfig, prepared: dict[str, PreparedSuite], suite_dirs: set[Path]) -> None:
    """Every benchmark a threshold, the recipe or an aggregate names is a suite collected, or a suite module
    (test_<name>.py) beside one that -k, the recipe or paths left out (a threshold may name an aggregate)."""
    if not suite_dirs:
        return
    known = set(prepared)
    for directory in suite_dirs:
        known |= {path.stem.removeprefix("test_") for path in directory.glob("test_*.py")}
    aggregated = run.tree.get("aggregates") or {}
    aggregates.check_names(aggregated, known, run.recipe_benchmarks)
    named = [(threshold.benchmark, "--threshold/recipe threshold") for threshold in run.thresholds
             if threshold.benchmark not in aggregated]
    named += [(name, "recipe benchmarks") for name in run.tree.get("benchmarks") or {}]
    for name, where in named:
        if name not in known:
            raise pytest.UsageError(f"unknown benchmark '{name}' in {where} (known: {', '.join(sorted(known))})")


def check_requirements(prepared: dict[str, PreparedSuite], selected: list[str]) -> None:
    """The packages a selected suite's scorer imports are installed (found, not imported: lazy)."""
    for name in selected:
        for module, requirement in prepared[name].suite.requires.items():
            if not installed(module):
                raise pytest.UsageError(f"{name} needs the package {module}: pip install '{requirement}'")


def check_judge(run: RunConfig, prepared: dict[str, PreparedSuite], selected: list[str],
                runs_embedded_model: Callable[[], bool | None]) -> None:
    """A selected suite graded by a judge: its endpoint, its judge models and the key must work before anything
    is sent."""
    judged = [name for name in selected if prepared[name].suite.judge]
    if not judged:
        return
    judge = run.section("judge")
    if judge["endpoint"] == EMBEDDED_JUDGE:  # the run's own server, started and checked for the model
        if runs_embedded_model() is False:
            raise pytest.UsageError("--judge-endpoint embedded grades with the embedded model: "
                                    "drop --endpoint/--deploy, or give the judge's URL")
        return
    if not os.environ.get(judge["api_key_env"]):
        raise pytest.UsageError(
            f"{', '.join(judged)} is graded by a judge model and the environment variable {judge['api_key_env']} "
            f"is not set: export the judge's API key (or name the variable with --judge-api-key-env)")
    for model in sorted({run.judge_model(name, prepared[name].suite.judge or "") for name in judged}):
        connect(judge["endpoint"], model, judge["api_key_env"], True, option="--judge-endpoint")


def check_user(run: RunConfig, prepared: dict[str, PreparedSuite], selected: list[str]) -> None:
    """A selected suite with a simulated user and its own --user-endpoint: the endpoint answers, serves the model
    and the key is set, before anything is sent (the default, the model's endpoint, is checked for the model)."""
    simulated = [name for name in selected if prepared[name].suite.simulated_user]
    user = run.section("user")
    if not simulated or user["endpoint"] is None:
        return
    key_env = run.user_key_env()
    if not os.environ.get(key_env) and user["api_key_env"] is not None:
        raise pytest.UsageError(
            f"{', '.join(simulated)} talks to a simulated user and the environment variable {key_env} is not set: "
            f"export the user model's API key (or name the variable with --user-api-key-env)")
    connect(user["endpoint"], user["model"], key_env, False, option="--user-endpoint")


def check_preflight(run: RunConfig, prepared: dict[str, PreparedSuite], selected: list[str]) -> None:
    """Each distinct preflight of the selected suites (e.g. the container suites' Docker daemon), once."""
    for preflight in dict.fromkeys(prepared[name].suite.preflight for name in selected):
        if preflight is not None:
            preflight(run.results_dir)


def check_completions(run: RunConfig, prepared: dict[str, PreparedSuite], selected: list[str],
                      role: Any) -> dict[str, Any] | None:
    """A selected base-model suite: the endpoint serves raw completions (and log-likelihoods if needed); what
    the probe found (the items' scoring), or None without such a suite."""
    from pytest_nemoeval.completions import CapabilityError, probe

    harness = [name for name in selected if prepared[name].suite.harness is not None]
    if not harness:
        return None
    loglikelihood = any(not prepared[name].suite.harness.generative  # type: ignore[union-attr]
                        for name in harness)
    try:
        return probe(role.endpoint_url(), role.served_model(), os.environ.get(run.api_key_env), loglikelihood,
                     ", ".join(harness))
    except CapabilityError as exc:
        raise pytest.UsageError(str(exc)) from None
