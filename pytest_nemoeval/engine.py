"""The generation engine: sends every planned request ahead of the items, in item order.

It runs in its own process (`python -m pytest_nemoeval.engine`, started by `EngineProcess`), so its work
never competes with the items for the GIL, and there is one per run: started by the only process without
xdist, by the controller under xdist. It streams the plan from the ResponseStore, keeps at most
`parallelism` requests in flight, retries 429/5xx/connection errors with backoff (honouring Retry-After),
gives up on the endpoint after a streak of connection failures (fail fast), and writes every response to
the store. Items wait only for their own response, which they read from the store (`wait_for`).
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_nemoeval.progress import Progress
from pytest_nemoeval.store import DEAD, STOPPED, ResponseStore
from pytest_nemoeval.transport import AttemptTimeout, ConnectionFailure, HttpResponse, Transport

FAIL_FAST_FAILURES = 5  # consecutive connection failures …
FAIL_FAST_SECONDS = 5.0  # … lasting at least this long mean the endpoint is down
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
CONNECTION_BACKOFF_CAP = 2.0  # refused connections are cheap to retry and must reach fail-fast quickly
RETRY_AFTER_CAP = 300.0
POLL_CAP = 0.02  # longest pause between two looks at the store while an item waits
STOP_GRACE = 10.0


class GenerationError(Exception):
    """A request that could not be completed; the item fails with this one-line reason."""


class EndpointDown(GenerationError):
    """The endpoint stopped answering: nothing more will be sent in this run."""


@dataclass(frozen=True)
class Request:
    key: str
    payload: dict[str, Any]


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def wait_for(store: ResponseStore, key: str) -> dict[str, Any]:
    """Block until the response for `key` is in the store and return it, or raise GenerationError."""
    delay = 0.001
    while True:
        body = store.get(key)
        if body is not None:
            return body
        failure = store.failure(key)
        if failure is not None:
            marker, error = failure
            raise EndpointDown(error) if marker == DEAD else GenerationError(error)
        time.sleep(delay)
        delay = min(delay * 2, POLL_CAP)


class GenerationEngine:
    """The async core; `run()` sends the whole plan and returns when every request has an outcome."""

    def __init__(self, url: str, headers: dict[str, str], store: ResponseStore, *, parallelism: int,
                 request_timeout: float, max_retries: int, secrets: tuple[str, ...] = (),
                 progress: Progress | None = None) -> None:
        self.url = url
        self._headers = headers
        self._store = store
        self._parallelism = parallelism
        self._timeout = request_timeout
        self._max_retries = max_retries
        self._secrets = tuple(secret for secret in secrets if secret)
        self._progress = progress
        self._dead: str | None = None
        self._streak = 0
        self._streak_started = 0.0

    async def run(self) -> None:
        ticker = asyncio.ensure_future(self._tick()) if self._progress is not None else None
        try:
            await self._produce()
        except Exception as exc:  # a bug must not leave items waiting
            self._store.fail(STOPPED, self._redact(f"generation engine failed: {type(exc).__name__}: {exc}"))
            raise
        finally:
            if ticker is not None:
                ticker.cancel()

    async def _tick(self) -> None:
        assert self._progress is not None
        while True:
            await asyncio.sleep(self._progress.interval)
            self._progress.tick()

    async def _produce(self) -> None:
        total = self._store.plan_size()
        if self._progress is not None:
            self._progress.total = total
        semaphore = asyncio.Semaphore(self._parallelism)
        tasks: set[asyncio.Task[None]] = set()
        async with Transport(self._headers, self._timeout) as transport:
            try:
                for _position, key, payload in self._store.iter_plan():
                    if self._dead:
                        break
                    if self._store.has(key):
                        self._finish(key, None, cached=True)
                        continue
                    await semaphore.acquire()
                    task = asyncio.create_task(self._send(transport, Request(key, payload)))
                    tasks.add(task)
                    task.add_done_callback(lambda t: (tasks.discard(t), semaphore.release()))
                while tasks:
                    await asyncio.wait(set(tasks))
            finally:
                for task in tasks:
                    task.cancel()
                if tasks:
                    await asyncio.gather(*tasks, return_exceptions=True)

    async def _send(self, transport: Transport, request: Request) -> None:
        last = "no attempt made"
        for attempt in range(self._max_retries + 1):
            if self._dead:
                return  # the DEAD marker answers every waiting item
            try:
                started = time.monotonic()
                response = await transport.post(self.url, request.payload)
                body = self._accept(response, time.monotonic() - started)
            except _Retryable as exc:
                last, retry_after = str(exc), exc.retry_after
            except AttemptTimeout as exc:
                last, retry_after = f"{exc} ({self._timeout:g} s)", None
            except ConnectionFailure as exc:
                last, retry_after = str(exc), None
                self._connection_failed(last)
                if attempt < self._max_retries:
                    await asyncio.sleep(min(CONNECTION_BACKOFF_CAP, _backoff(attempt, None)))
                continue
            except GenerationError as exc:
                self._finish(request.key, self._redact(str(exc)))
                return
            else:
                self._store.put(request.key, body)
                self._finish(request.key, None)
                return
            if attempt < self._max_retries:
                await asyncio.sleep(_backoff(attempt, retry_after))
        self._finish(request.key, self._redact(f"{last} (gave up after {self._max_retries + 1} attempts)"))

    def _accept(self, response: HttpResponse, latency: float) -> dict[str, Any]:
        self._streak = 0
        status = response.status
        if status == 429 or status >= 500:
            raise _Retryable(f"HTTP {status}: {_server_message(response.body)}",
                             _retry_after(response.headers.get("Retry-After")))
        if status != 200:
            raise GenerationError(f"HTTP {status} from {self.url}: {_server_message(response.body)}")
        try:
            data = json.loads(response.body)
            choice = data["choices"][0]
            message = choice.get("message") or {}
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise _Retryable(f"invalid response (not an OpenAI chat completion): {response.body[:120]!r}") from None
        usage = data.get("usage") or {}
        return {
            "content": message.get("content"),
            "reasoning_content": message.get("reasoning_content") or message.get("reasoning"),
            "tool_calls": message.get("tool_calls"),
            "finish_reason": choice.get("finish_reason"),
            "completion_tokens": usage.get("completion_tokens"),
            "prompt_tokens": usage.get("prompt_tokens"),
            "latency": round(latency, 4),
        }

    def _connection_failed(self, reason: str) -> None:
        now = time.monotonic()
        if self._streak == 0:
            self._streak_started = now
        self._streak += 1
        if self._streak >= FAIL_FAST_FAILURES and now - self._streak_started >= FAIL_FAST_SECONDS and not self._dead:
            self._dead = (f"endpoint {self.url} is down: {self._streak} connection failures in a row over "
                          f"{now - self._streak_started:.0f} s (last: {reason}); stopped sending")
            self._store.fail(DEAD, self._dead)

    def _finish(self, key: str, error: str | None, cached: bool = False) -> None:
        if error:
            self._store.fail(key, error)
        if self._progress is not None:
            self._progress.advance(error=bool(error), cached=cached)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _backoff(attempt: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return min(retry_after, RETRY_AFTER_CAP) * random.uniform(1.0, 1.1)
    return min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt) * random.uniform(0.5, 1.0)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _server_message(body: bytes) -> str:
    try:
        data = json.loads(body)
        error = data.get("error", data) if isinstance(data, dict) else data
        message = error.get("message", error) if isinstance(error, dict) else error
        text = str(message)
    except ValueError:
        text = body.decode("utf-8", "replace")
    text = " ".join(text.split())
    return text[:300] or "(empty body)"


class EngineProcess:
    """The parent's handle on the engine process. A watchdog turns its unexpected death into a STOPPED
    marker, so that no item (here or in an xdist worker) waits for a response that will never come."""

    def __init__(self, store: ResponseStore, *, url: str, api_key_env: str, parallelism: int,
                 request_timeout: float, max_retries: int, progress_interval: float, stderr: int) -> None:
        self._store = store
        # The key stays in the environment: a command line is visible to every user of the machine.
        self._command = [sys.executable, "-m", "pytest_nemoeval.engine", "--store", str(store.path),
                         "--run-id", store.run_id, "--url", url, "--api-key-env", api_key_env,
                         "--parallelism", str(parallelism), "--request-timeout", str(request_timeout),
                         "--max-retries", str(max_retries), "--progress-interval", str(progress_interval)]
        self._stderr = stderr
        self._process: subprocess.Popen[bytes] | None = None
        self._closing = False

    def start(self) -> None:
        self._process = subprocess.Popen(self._command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=self._stderr)
        threading.Thread(target=self._watch, args=(self._process,), name="nemoeval-engine-watch",
                         daemon=True).start()

    def _watch(self, process: subprocess.Popen[bytes]) -> None:
        status = process.wait()
        if status != 0 and not self._closing:
            store = ResponseStore(self._store.path, self._store.run_id)
            store.fail(STOPPED, f"generation engine exited with status {status}")
            store.close()

    def close(self, reason: str = "generation was cancelled") -> None:
        """Cancel queued and in-flight requests (returns within seconds); waiting items fail with `reason`."""
        if self._closing:
            return
        self._closing = True
        self._store.fail(STOPPED, reason)
        process = self._process
        if process is None or process.poll() is not None:
            return
        for sig, grace in ((signal.SIGTERM, STOP_GRACE), (signal.SIGKILL, 5.0)):
            process.send_signal(sig)
            try:
                process.wait(timeout=grace)
                return
            except subprocess.TimeoutExpired:
                continue


def main(argv: list[str] | None = None) -> None:
    """The engine process: `python -m pytest_nemoeval.engine --store FILE --run-id ID --url URL ...`."""
    from pytest_nemoeval.llama_server import die_with_parent

    parser = argparse.ArgumentParser(prog="python -m pytest_nemoeval.engine")
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--api-key-env", required=True)
    parser.add_argument("--parallelism", type=int, required=True)
    parser.add_argument("--request-timeout", type=float, required=True)
    parser.add_argument("--max-retries", type=int, required=True)
    parser.add_argument("--progress-interval", type=float, default=0.0, help="seconds; 0 = no status line")
    args = parser.parse_args(argv)
    die_with_parent()
    key = os.environ.get(args.api_key_env) or ""
    store = ResponseStore(args.store, args.run_id)
    progress = Progress(args.progress_interval) if args.progress_interval > 0 else None
    engine = GenerationEngine(args.url, {"Authorization": f"Bearer {key}"} if key else {}, store,
                              parallelism=args.parallelism, request_timeout=args.request_timeout,
                              max_retries=args.max_retries, secrets=(key,), progress=progress)

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
