"""What streaming costs the engine: the same requests streamed and whole, against an instant mock.

    python benchmarks/streaming.py [--items 1000] [--parallelism 64] [--words 200]

Each reply is `--words` words; streamed, the mock sends one chunk per word (as a server sends about one per
token). Prints, per mode, the wall time and the engine's own CPU time (this process; the mock runs in its
own), and the ratios streamed ÷ whole: the price of counting tokens while they arrive.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import Mock  # noqa: E402
from pytest_nemoeval.engine.loop import GenerationEngine, Lane  # noqa: E402
from pytest_nemoeval.engine.progress import Progress  # noqa: E402
from pytest_nemoeval.engine.store import ResponseStore  # noqa: E402


def run(url: str, items: int, parallelism: int, stream: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as directory:
        store = ResponseStore(Path(directory) / "store.sqlite", "bench")
        store.publish_plan((f"key-{i}", "hash", {"model": "mock-model", "messages": [{"role": "user", "content": f"q{i}"}]})
                           for i in range(items))
        progress = Progress(1.0, Path(directory) / "status")  # counting tokens is part of the price
        engine = GenerationEngine([Lane("model", f"{url}/v1", "NO_KEY", parallelism)], store, request_timeout=60,
                                  max_retries=0, settings={"stream": stream}, progress=progress)
        wall, cpu = time.perf_counter(), time.process_time()
        asyncio.run(engine.run())
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert all(store.has(f"key-{i}") for i in range(items))
        return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--parallelism", type=int, default=64)
    parser.add_argument("--words", type=int, default=200)
    args = parser.parse_args()
    with Mock("--answer", " ".join(["word"] * args.words)) as mock:
        run(mock.url, 50, args.parallelism, "off")  # warm up
        results = {mode: run(mock.url, args.items, args.parallelism, mode) for mode in ("off", "on")}
    for mode, (wall, cpu) in results.items():
        print(f"--stream {mode}: {args.items} replies of {args.words} words, {args.parallelism} in flight: "
              f"wall {wall:.2f} s ({args.items / wall:.0f} req/s), engine CPU {cpu:.2f} s")
    (wall_off, cpu_off), (wall_on, cpu_on) = results["off"], results["on"]
    print(f"streamed / whole: wall {wall_on / wall_off:.2f}, engine CPU {cpu_on / cpu_off:.2f}, "
          f"engine CPU per streamed chunk {(cpu_on - cpu_off) / (args.items * args.words) * 1e6:.1f} us")


if __name__ == "__main__":
    main()
