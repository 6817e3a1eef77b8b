"""The engine process: `python -m pytest_nemoeval.engine --store FILE --run-id ID --lane JSON ...`."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from pathlib import Path

from pytest_nemoeval.engine.loop import GenerationEngine, Lane
from pytest_nemoeval.engine.progress import Progress
from pytest_nemoeval.engine.store import STOPPED, ResponseStore
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
    parser.add_argument("--first", type=int, default=0, help="send the plan from this position")
    parser.add_argument("--progress-interval", type=float, default=5.0, help="seconds between status lines")
    args = parser.parse_args(argv)
    die_with_parent()
    # A terminal's Ctrl-C reaches the whole process group. pytest decides what it means (it stops the engine
    # with SIGTERM when the run ends), and a run that ignores SIGINT (a background job) keeps its engine.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    store = ResponseStore(args.store, args.run_id)
    alive = store.hold_engine_lock()  # the items' sign that the engine runs (dropped by the kernel at exit)
    progress = Progress(args.progress_interval, args.status) if args.status is not None else None
    engine = GenerationEngine(args.lane, store, request_timeout=args.request_timeout, max_retries=args.max_retries,
                              settings=args.settings, progress=progress, first=args.first)

    async def serve() -> bool:
        task = asyncio.ensure_future(engine.run())
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)  # the parent stops us
        try:
            await task
        except asyncio.CancelledError:
            return False
        return True

    finished = False
    try:
        finished = asyncio.run(serve())
    finally:
        if not finished:  # what is left unanswered fails at once, with the first reason given for the stop
            store.fail(STOPPED, "generation was interrupted before this item was answered", replace=False)
        store.close()
        if alive is not None:
            alive.release()


if __name__ == "__main__":
    main()
