"""Sandbox cost: time per run over a bare `python` child, and sandboxed programs per second on the machine's cores.

    python benchmarks/sandbox.py [--runs 40]

Overhead = median wall time of `run_python("pass")` minus that of a plain `python -s -c pass` child
(what any process-per-program harness pays anyway). Throughput = HumanEval-sized check programs per second
with --sandbox-workers = CPU cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time

from pytest_nemoeval import sandbox

CHECK = """
def add(a, b):
    return a + b

def check(candidate):
    for n in range(1000):
        assert candidate(n, 1) == n + 1

check(add)
"""


def bare_python_ms(runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-s", "-c", "pass"], check=True)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def sandbox_ms(runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = await sandbox.run_python("pass")
        assert result.status == "ok", result.stderr
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def throughput(runs: int) -> float:
    started = time.perf_counter()
    results = await asyncio.gather(*(sandbox.run_python(CHECK) for _ in range(runs)))
    assert all(result.status == "ok" for result in results)
    return runs / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    sandbox.configure(cores)
    isolated, reason = sandbox.isolation()
    print(f"isolation: {'namespaces (user, net, mount, pid)' if isolated else 'none: ' + reason}")
    bare = bare_python_ms(args.runs)
    boxed = asyncio.run(sandbox_ms(args.runs))
    print(f"per run: sandboxed {boxed:.1f} ms, bare python child {bare:.1f} ms, overhead {boxed - bare:.1f} ms")
    rate = asyncio.run(throughput(args.runs * 2))
    print(f"throughput: {rate:.1f} check programs/s with {cores} sandbox workers on {cores} cores")


if __name__ == "__main__":
    main()
