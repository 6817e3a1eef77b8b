"""Is a run endpoint-bound? Engine alone and whole pytest runs against a mock with fixed latency.

    python benchmarks/throughput.py [--items 5000] [--parallelism 512]

1. engine alone: wall time to send N planned requests at P in flight, latency L = 0.1 s, divided by
   the ideal max(ceil(N / P) · L, time for N requests to an instant mock);
2. pytest end to end, latency 0.1 s: wall time divided by max(ideal generation time N · L / P, the same
   run against an instant mock): does waiting for the endpoint add anything to pytest's own work?
3. pytest end to end, latency 2 s: wall time divided by the ideal endpoint-bound time ceil(N / P) · 2 s
   plus what must happen before the first request (start-up and collection of the N items, measured
   with --collect-only): does pytest's own work hide behind generation?
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import Mock, check, project, run_pytest  # noqa: E402
from pytest_nemoeval.engine.loop import GenerationEngine, Lane  # noqa: E402
from pytest_nemoeval.engine.store import ResponseStore  # noqa: E402


def engine_alone(items: int, parallelism: int, latency: float) -> tuple[float, float]:
    with Mock("--latency", str(latency)) as mock, tempfile.TemporaryDirectory() as directory:
        store = ResponseStore(Path(directory) / "store.sqlite", "bench")
        store.publish_plan((f"key-{i}", f"prompt-{i}", {"model": "mock-model", "messages": [{"role": "user", "content": f"q{i}"}]})
                           for i in range(items))
        engine = GenerationEngine([Lane("model", f"{mock.url}/v1", "NEMOEVAL_BENCH_NO_KEY", parallelism)], store,
                                  request_timeout=60, max_retries=0)
        started = time.perf_counter()
        asyncio.run(engine.run())
        wall = time.perf_counter() - started
        assert mock.requests() == items
        return wall, math.ceil(items / parallelism) * latency


def end_to_end(items: int, parallelism: int, latency: float, *extra: str) -> float:
    with Mock("--latency", str(latency)) as mock, project(items) as directory:
        run = check(run_pytest(directory, "suites/", "-q", "--endpoint", mock.url, "--data-dir", "data",
                               "--parallelism", str(parallelism), "--no-cache", *extra))
        assert mock.requests() == (0 if extra else items), mock.requests()
        return run.wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--parallelism", type=int, default=512)
    args = parser.parse_args()
    n, p = args.items, args.parallelism

    wall0, _ = engine_alone(n, p, 0.0)
    print(f"engine alone: {n} requests to an instant mock: {wall0:.2f} s ({n / wall0:.0f} req/s; the mock and "
          "the client share 2 cores)")
    wall, ideal = engine_alone(n, p, 0.1)
    print(f"engine alone: {n} requests, {p} in flight, latency 0.1 s: {wall:.2f} s ({n / wall:.0f} req/s); "
          f"ideal max({ideal:.2f}, {wall0:.2f}) s; ratio {wall / max(ideal, wall0):.2f}")

    floor = end_to_end(n, p, 0.0)
    latency = 0.1
    wall = end_to_end(n, p, latency)
    ideal = n * latency / p
    print(f"pytest: {n} items, {p} in flight, latency {latency:g} s: {wall:.2f} s; instant mock {floor:.2f} s, "
          f"N*L/P {ideal:.2f} s; ratio {wall / max(ideal, floor):.2f}")
    collect = end_to_end(n, p, 0.0, "--collect-only")
    latency = 2.0
    ideal = math.ceil(n / p) * latency
    wall = end_to_end(n, p, latency)
    print(f"pytest: {n} items, {p} in flight, latency {latency:g} s: {wall:.2f} s; ideal endpoint-bound "
          f"{ideal:.2f} s + start-up and collection {collect:.2f} s; ratio {wall / (ideal + collect):.2f}")

if __name__ == "__main__":
    main()
