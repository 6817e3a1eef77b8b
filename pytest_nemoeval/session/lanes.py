"""The run's lanes: every model the engine talks to, each with its endpoint, model, key variable and
parallelism: the model under test, the judge (--judge-*) and the simulated user (--user-*)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_nemoeval.config import RunConfig
from pytest_nemoeval.options import EMBEDDED_JUDGE
from pytest_nemoeval.endpoint import Endpoint, connect, normalize_url

if TYPE_CHECKING:
    from pytest_nemoeval.engine.loop import Lane


def run_lanes(run: RunConfig, endpoint: Endpoint) -> list[Lane]:
    """The lanes of a run whose model under test is served at `endpoint`."""
    from pytest_nemoeval.engine.loop import Lane

    judge = run.section("judge")
    judge_url, judge_model = normalize_url(judge["endpoint"]), judge["model"]
    if judge["endpoint"] == EMBEDDED_JUDGE:
        judge_url, judge_model = endpoint.base_url, endpoint.model
    user = run.section("user")
    user_url, user_model = endpoint.base_url, user["model"] or endpoint.model
    if user["endpoint"] is not None:  # checked before the plan (checks.check_user); names its model if not given
        user_url = normalize_url(user["endpoint"])
        user_model = user["model"] or connect(user["endpoint"], None, run.user_key_env(), False,
                                              option="--user-endpoint").model
    return [Lane("model", endpoint.base_url, run.api_key_env, run.parallelism),
            Lane("judge", judge_url, judge["api_key_env"], judge["parallelism"], judge_model),
            Lane("user", user_url, run.user_key_env(), user["parallelism"] or run.parallelism, user_model)]
