"""The engine process: `python -m pytest_nemoeval.engine --store FILE --run-id ID --lane JSON ...`."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from pathlib import Path

from pytest_nemoeval.engine.loop import GenerationEngine, Lane
from pytest_nemoeval.engine.progress import Progress
from pytest_nemoeval.engine.store import ResponseStore
from pytest_nemoeval.servers.lifecycle import die_with_parent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pytest_nemoeval.engine")
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--lane", action="append", required=True, type=lambda text: Lane(**json.loads(text)),
                        help="JSON: name, url (base, with /v1), api_key_env, parallelism, model")
    parser.add_argument("--settings", type=json.loads, default={}, help="JSON: the run configuration, for drivers")
    parser.add_argument("--request-timeout", type=float, required=True)
    parser.add_argument("--max-retries", type=int, required=True)
    parser.add_argument("--status", type=Path, default=None, help="file the status line is kept in")
    parser.add_argument("--progress-interval", type=float, default=5.0, help="seconds between status lines")
    args = parser.parse_args(argv)
    die_with_parent()
    store = ResponseStore(args.store, args.run_id)
    progress = Progress(args.progress_interval, args.status) if args.status is not None else None
    engine = GenerationEngine(args.lane, store, request_timeout=args.request_timeout, max_retries=args.max_retries,
                              settings=args.settings, progress=progress)

    async def serve() -> None:
        task = asyncio.ensure_future(engine.run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):  # the parent stops us; Ctrl-C reaches the whole group
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass

    try:
        asyncio.run(serve())
    finally:
        store.close()


if __name__ == "__main__":
    main()
