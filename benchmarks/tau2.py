"""tau2-bench conversations per second, and the plugin's own cost per turn over a bare scripted conversation,
at 1 and 64 conversations in flight.

    python benchmarks/tau2.py [--conversations 16,128] [--rounds 3]

Both run tau2's mock domain (task create_task_1) with the same script: the user asks, the agent calls
create_task, says "Done.", the user stops (4 model turns, one tool call; tau2's orchestrator, environment and
evaluator each time). bare: tau2's run_task in a pool of threads, its litellm completion answered in-process by
the script (no engine, no HTTP). plugin: the same conversations as engine drivers (pytest_nemoeval/tasks/tau2,
engine/bridge.py) through the GenerationEngine, its model and user lanes on two tests/mockserver.py endpoints
(no latency), every reply written to the response store: what a run adds per turn (thread bridge, engine,
HTTP, store). Each conversation is its own trial (its own seed), so nothing is answered from the cache.
Each side takes its best round (a shared machine only ever adds time).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository, not benchmarks/: this file shadows tau2

from benchmarks._harness import Mock  # noqa: E402

TURNS = 4  # model requests per conversation: user, agent (tool call), agent ("Done."), user (stop)
GREETING, STOP = "How can I help", "Thanks. ###STOP###"
ASK = "Please create a task called Important Meeting for user_1."
CREATE = json.dumps({"user_id": "user_1", "title": "Important Meeting"})
DRIVER = '''
from pytest_nemoeval.tasks import tau2


async def converse(sample, chat):
    return await tau2.run_conversation("mock", sample, chat)
'''


def task() -> dict:
    from pytest_nemoeval.tasks.tau2 import domain_dir

    return next(t for t in json.loads((domain_dir("mock") / "tasks.json").read_text()) if t["id"] == "create_task_1")


def scripted_completion(model, messages, tools=None, tool_choice=None, **kwargs):
    """The script, in-process: what the two mock servers answer."""
    import litellm

    if model == "user":
        last = next(m.get("content") or "" for m in reversed(messages) if m["role"] == "user")
        message = {"role": "assistant", "content": ASK if GREETING in last else STOP}
    elif messages[-1]["role"] == "tool":
        message = {"role": "assistant", "content": "Done."}
    else:
        message = {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "create_task", "arguments": CREATE}}]}
    return litellm.ModelResponse(model=model, choices=[{"index": 0, "message": message, "finish_reason": "stop"}],
                                 usage={"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15})


def bare(conversations: int, inflight: int) -> float:
    import tau2.utils.llm_utils
    from tau2.data_model.tasks import Task

    from pytest_nemoeval.tasks import tau2 as tasks_tau2

    run_task = tasks_tau2.harness()["run_task"]
    routed, tau2.utils.llm_utils.completion = tau2.utils.llm_utils.completion, scripted_completion
    try:
        def one(trial: int) -> float:
            simulation = run_task(domain="mock", task=Task.model_validate(task()), agent="llm_agent",
                                  user="user_simulator", llm_agent="model", llm_user="user", max_steps=100,
                                  seed=tasks_tau2.trial_seed(trial))
            return simulation.reward_info.reward

        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(inflight) as pool:
            rewards = list(pool.map(one, range(conversations)))
        wall = time.perf_counter() - started
    finally:
        tau2.utils.llm_utils.completion = routed
    assert rewards == [1.0] * conversations, rewards
    return wall


def plugin(conversations: int, inflight: int, agent_url: str, user_url: str, directory: Path) -> float:
    from pytest_nemoeval.engine.drivers import DriverRow
    from pytest_nemoeval.engine.loop import GenerationEngine, Lane
    from pytest_nemoeval.engine.store import ResponseStore

    suite = directory / "tau2_driver.py"
    suite.write_text(DRIVER)
    store = ResponseStore(directory / f"cache-{time.monotonic_ns()}.sqlite", "bench")
    rows = [DriverRow(str(suite), "converse", task(), [], "mock-model", {}, trial).payload()
            for trial in range(conversations)]
    store.publish_plan((f"item-{trial}", "", row) for trial, row in enumerate(rows))
    lanes = [Lane("model", f"{agent_url}/v1", "NO_KEY", inflight), Lane("judge", f"{agent_url}/v1", "NO_KEY", 1),
             Lane("user", f"{user_url}/v1", "NO_KEY", inflight, "mock-model")]
    engine = GenerationEngine(lanes, store, request_timeout=60, max_retries=0)
    started = time.perf_counter()
    asyncio.run(engine.run())
    wall = time.perf_counter() - started
    rewards = [(store.get(f"item-{trial}") or {})["conversation"]["reward"] for trial in range(conversations)]
    store.close()
    assert rewards == [1.0] * conversations, rewards
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", default="16,128", help="conversations at 1 and at 64 in flight")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    counts = [int(n) for n in args.conversations.split(",")]
    from pytest_nemoeval.tasks import tau2 as tasks_tau2

    tasks_tau2.harness()  # tau2's import (litellm's: seconds) is paid once, before any clock starts
    steps = json.dumps([{"calls": [["create_task", CREATE]]}, {"content": "Done."}])
    with tempfile.TemporaryDirectory() as temporary, Mock("--tool-steps", _file(temporary, "steps", steps)) as agent, \
            Mock("--answers", _file(temporary, "user", json.dumps([[GREETING, ASK]])), "--answer", STOP) as user:
        directory = Path(temporary)
        for inflight, conversations in zip((1, 64), counts):
            bare_wall = min(bare(conversations, inflight) for _ in range(args.rounds))
            plugin_wall = min(plugin(conversations, inflight, agent.url, user.url, directory)
                              for _ in range(args.rounds))
            turns = conversations * TURNS
            print(f"{inflight:2d} in flight, {conversations} conversations: "
                  f"bare {conversations / bare_wall:6.1f} conv/s "
                  f"({bare_wall / turns * 1000:5.2f} ms/turn), plugin {conversations / plugin_wall:6.1f} conv/s "
                  f"({plugin_wall / turns * 1000:5.2f} ms/turn): plugin overhead "
                  f"{(plugin_wall - bare_wall) / turns * 1000:5.2f} ms per turn, ratio {plugin_wall / bare_wall:.2f}")


def _file(directory: str, name: str, text: str) -> str:
    path = Path(directory) / f"{name}.json"
    path.write_text(text)
    return str(path)


if __name__ == "__main__":
    main()
