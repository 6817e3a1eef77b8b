"""The run's lanes: every model the engine talks to, each with its endpoint, model, key variable and
parallelism: the model under test, the judge (--judge-*) and the simulated user (--user-*)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_nemoeval.config import RunConfig
from pytest_nemoeval.options import EMBEDDED_JUDGE
from pytest_nemoeval.endpoint import Endpoint, connect, normalize_url

if TYPE_CHECKING:
    from pytest_nemoeval.engine.loop import Lane


def run_lanes(run: RunConfig, endpoint: Endpoint, max_tokens: int | None = None) -> list[Lane]:
    """The lanes of a run whose model under test is served at `endpoint`; `max_tokens` caps every reply that
    server gives (the embedded model's), on whichever lane reaches it."""
    from pytest_nemoeval.engine.loop import Lane

    judge = run.section("judge")
    judge_url, judge_model, judge_cap = normalize_url(judge["endpoint"]), judge["model"], None
    if judge["endpoint"] == EMBEDDED_JUDGE:
        judge_url, judge_model, judge_cap = endpoint.base_url, endpoint.model, max_tokens
    user = run.section("user")
    user_url, user_model, user_cap = endpoint.base_url, user["model"] or endpoint.model, max_tokens
    if user["endpoint"] is not None:  # checked before the plan (checks.check_user); names its model if not given
        user_url, user_cap = normalize_url(user["endpoint"]), None
        user_model = user["model"] or connect(user["endpoint"], None, run.user_key_env(), False,
                                              option="--user-endpoint").model
    return [Lane("model", endpoint.base_url, run.api_key_env, run.parallelism, max_tokens=max_tokens),
            Lane("judge", judge_url, judge["api_key_env"], judge["parallelism"], judge_model, judge_cap),
            Lane("user", user_url, run.user_key_env(), user["parallelism"] or run.parallelism, user_model, user_cap)]
