"""Which HTTP client? Requests per second at 256 in flight against one local instant mock.

    pip install -e ".[bench]"; python benchmarks/transport.py [--requests 5000] [--in-flight 256]

Compares the plugin's transport (aiohttp, pytest_nemoeval/engine/transport.py) with plain httpx and httpx over
the httpx-aiohttp transport, each with its connection cap removed. On a 2-core machine the mock shares
the CPU with the client, so absolute numbers are low; the ratios are what the choice rests on.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import Mock  # noqa: E402
from pytest_nemoeval.engine.transport import Transport  # noqa: E402

PAYLOAD = {"model": "mock-model", "messages": [{"role": "user", "content": "Which option? \\boxed{}"}], "max_tokens": 8}


async def drive(post: Callable[[], Awaitable[Any]], requests: int, in_flight: int) -> float:
    semaphore = asyncio.Semaphore(in_flight)

    async def one() -> None:
        async with semaphore:
            await post()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(requests)))
    return requests / (time.perf_counter() - started)


async def with_aiohttp(url: str, requests: int, in_flight: int) -> float:
    async with Transport({}, 60) as transport:
        return await drive(lambda: transport.post(url, PAYLOAD), requests, in_flight)


async def with_httpx(url: str, requests: int, in_flight: int, over_aiohttp: bool) -> float:
    import httpx

    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    if over_aiohttp:
        from httpx_aiohttp import AiohttpTransport

        client = httpx.AsyncClient(transport=AiohttpTransport(), limits=limits, timeout=60)
    else:
        client = httpx.AsyncClient(limits=limits, timeout=60)
    async with client:
        return await drive(lambda: client.post(url, json=PAYLOAD), requests, in_flight)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--in-flight", type=int, default=256)
    args = parser.parse_args()
    clients = {
        "aiohttp (the plugin's transport)": lambda url: with_aiohttp(url, args.requests, args.in_flight),
        "httpx": lambda url: with_httpx(url, args.requests, args.in_flight, over_aiohttp=False),
        "httpx over httpx-aiohttp": lambda url: with_httpx(url, args.requests, args.in_flight, over_aiohttp=True),
    }
    rates = {}
    for name, run in clients.items():
        with Mock() as mock:  # a fresh mock each, so no client inherits another's connections
            url = f"{mock.url}/v1/chat/completions"
            asyncio.run(run(url))  # warm-up: connections, imports
            rates[name] = asyncio.run(run(url))
    best = max(rates.values())
    for name, rate in rates.items():
        print(f"{name}: {rate:,.0f} req/s at {args.in_flight} in flight ({rate / best:.2f} of the fastest)")


if __name__ == "__main__":
    main()
