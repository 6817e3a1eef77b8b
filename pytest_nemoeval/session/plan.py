"""The plan's rows: what the engine sends for one item (a chat request, a driver's task, a raw completion, or
a sample's log-likelihoods), its cache key and its prompt hash."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_nemoeval.options import EMBEDDED_JUDGE
from pytest_nemoeval.data import Rows
from pytest_nemoeval.suite import Suite, build_payload, prompt_hash, request_key

PlanRow = tuple[str, str, dict[str, Any]]  # (request key, prompt hash, payload)


@dataclass
class PreparedSuite:
    suite: Suite
    rows: Rows
    repeats: int
    generation: dict[str, Any]
    module_file: Path
    dataset: dict[str, Any]
    prompt_chars: list[int] = field(default_factory=list)  # each row's request text, for --shard's costs

    def item_cost(self, index: int) -> int:
        """The expected cost of one item of row `index` (--shard balances it): its tokens in and out."""
        from pytest_nemoeval.shard.split import item_cost

        generative = self.suite.harness is None or self.suite.harness.generative
        return item_cost(self.prompt_chars[index], self.generation, generative)


def plan_row(prepared: PreparedSuite, index: int, repeat: int, model: str, data_options: Any,
             judge: dict[str, Any], scoring: dict[str, Any] | None) -> PlanRow:
    """One item's plan row. `data_options` (the recipe's) and `judge` (endpoint, model, and for a suite with a
    simulated user its "user": endpoint, model) are part of a driver's key; `scoring` is what the completions
    probe found (base-model suites)."""
    suite, row = prepared.suite, prepared.rows[index]
    if suite.harness is not None:
        return _harness_row(prepared, index, repeat, model, scoring)
    messages = suite.messages(row, prepared.generation.get("system_prompt"))
    if suite.driver is None and not suite.tools:
        generation = prepared.generation
        if suite.row_generation is not None:  # the run's settings (recipe, --set) win over the row's
            generation = {**suite.row_generation(row), **{k: v for k, v in generation.items() if v is not None}}
        payload = build_payload(messages, model, generation, repeat)
        return request_key(payload, repeat), prompt_hash(messages), payload
    from pytest_nemoeval.engine.drivers import DriverRow

    # a driver is loaded from its module's file (a variant's driver may be its base module's); a suite with
    # tools and no driver runs drivers.single_request (no path)
    path = "" if suite.driver is None else str(getattr(sys.modules.get(suite.driver.__module__), "__file__", None)
                                                or prepared.module_file)
    function = "single_request" if suite.driver is None else suite.driver.__name__
    # the embedded judge is the run's own model (its lane names it); another judge is named in each request
    judge_model = judge["model"] if judge["endpoint"] != EMBEDDED_JUDGE else None
    driver = DriverRow(path, function, row, messages, model, prepared.generation, repeat,
                       tuple(tool.config() for tool in suite.tools), data_options, judge_model).payload()
    # the key names the driver by module and function, not by path: a moved checkout keeps its cache
    identity = {**driver, "driver": f"{Path(path).name}:{function}" if path else function}
    identity.pop("judge_model", None)
    if suite.judge:  # another judge is another verdict
        identity["judge"] = {key: value for key, value in judge.items() if key != "user"}
    if suite.simulated_user:
        identity["user"] = judge["user"]
    return request_key(identity, repeat), prompt_hash(messages), driver


def _harness_row(prepared: PreparedSuite, index: int, repeat: int, model: str,
                 scoring: dict[str, Any] | None) -> PlanRow:
    """A base-model item: one raw completion (generative), or its choices' log-likelihoods, whose key leaves
    out how the server is driven (slots, pinning): the same log-probs either way."""
    sent = prepared.suite.request_text(prepared.rows, index, None)
    if isinstance(sent, str):
        payload = build_payload(sent, model, prepared.generation, repeat, field="prompt")
        return request_key(payload, repeat), prompt_hash(sent), payload
    assert scoring is not None, "the completions probe runs before the plan is made"
    contexts = list(dict.fromkeys(context for context, _ in sent))  # choices share one context: kept once
    spec = {"contexts": contexts,
            "requests": [[contexts.index(context), continuation] for context, continuation in sent],
            "server": scoring["server"], "method": scoring["method"],
            "max_length": prepared.generation.get("max_length")}
    pin = prepared.generation.get("pin_slots", True)
    payload = {"loglikelihood": {**spec, "slots": scoring.get("slots"), "pin": pin}, "model": model}
    return request_key({"loglikelihood": spec, "model": model}, repeat), prompt_hash(sent), payload
