"""Python tool cost: a tool call's wall time over a bare sandbox run, as conversations grow (each call replays
the conversation's earlier cells, as NeMo Skills restores a session), and calls per second on the machine's cores.

    python benchmarks/tools.py [--calls 1,5,10,20] [--conversations 16]

The model is scripted (no endpoint): each reply asks for one call (a cell that sets and prints a variable)
until the conversation has its calls, then answers. Ratio = median wall time per call of the conversation ÷
median wall time of one `sandbox.run_python("pass")`: 1.0 would be a call costing exactly one sandbox run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time

from pytest_nemoeval import sandbox
from pytest_nemoeval.tools import PythonTool
from pytest_nemoeval.tools.loop import tool_loop
from pytest_nemoeval.tools.python_tool import NAME


def scripted(calls: int):
    step = 0

    async def send(conversation, tools, **options):
        nonlocal step
        step += 1
        if step > calls:
            return {"content": "done", "tool_calls": None}
        code = f"x{step} = {step} * 2\nprint(x{step})"
        return {"content": None, "tool_calls": [{"id": f"call_{step}", "type": "function",
                                                 "function": {"name": NAME, "arguments": json.dumps({"code": code})}}]}
    return send


async def conversation(calls: int) -> float:
    started = time.perf_counter()
    body = await tool_loop(scripted(calls), [{"role": "user", "content": "q"}], [PythonTool()])
    assert [call["status"] for call in body["tool_use"]["calls"]] == ["completed"] * calls, body["tool_use"]
    return time.perf_counter() - started


async def bare_run_ms(runs: int = 20) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        assert (await sandbox.run_python("pass")).status == "ok"
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def main_async(lengths: list[int], conversations: int) -> None:
    sandbox.configure(os.cpu_count() or 1)
    bare = await bare_run_ms()
    print(f"sandbox run (pass): {bare:.1f} ms median")
    for calls in lengths:
        per_call = statistics.median([await conversation(calls) for _ in range(3)]) * 1000 / calls
        print(f"conversation of {calls:2d} calls: {per_call:6.1f} ms per call  ratio {per_call / bare:.2f}")
    started = time.perf_counter()
    await asyncio.gather(*(conversation(5) for _ in range(conversations)))
    wall = time.perf_counter() - started
    ideal = conversations * 5 * bare / 1000 / (os.cpu_count() or 1)
    print(f"{conversations} conversations x 5 calls on {os.cpu_count()} cores: {conversations * 5 / wall:.1f} calls/s, "
          f"wall / (calls x bare run / cores) = {wall / ideal:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="1,5,10,20")
    parser.add_argument("--conversations", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(main_async([int(n) for n in args.calls.split(",")], args.conversations))


if __name__ == "__main__":
    main()
