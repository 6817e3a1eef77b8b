"""The generation engine: sends every planned request ahead of the items, in item order.

It runs in its own process (`python -m pytest_nemoeval.engine`, started by `EngineProcess`), so its work
never competes with the items for the GIL, and there is one per run: started by the only process without
xdist, by the controller under xdist. It streams the plan from the ResponseStore, keeps at most
`parallelism` requests in flight, retries 429/5xx/connection errors with backoff (honouring Retry-After),
gives up on the endpoint after a streak of connection failures (fail fast), and writes every response to
the store. A request that cannot fit its lane's context window is not sent (context.py). Items wait only for their own response, which they read from the store (`wait_for`).

A plan row of a suite with a driver (multi-turn, judge, sandboxed execution) runs that driver here, as one
task per (sample, repeat): each of its requests goes through the same retries, cache and lanes (see
drivers.py), and what it returns is the item's response.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import time
from dataclasses import dataclass
from typing import Any, Awaitable

from pytest_nemoeval import sandbox
from pytest_nemoeval.errors import EndpointDown, GenerationError
from pytest_nemoeval.completions import server_root
from pytest_nemoeval.engine.context import ContextWindow, is_overflow, server_refusal
from pytest_nemoeval.engine.drivers import Chat, DriverRow, run_driver
from pytest_nemoeval.engine.loglikelihood import LoglikelihoodScorer
from pytest_nemoeval.engine.progress import Flight, Progress
from pytest_nemoeval.engine.store import DEAD, STOPPED, ResponseStore
from pytest_nemoeval.engine.streaming import StreamError, Streamer
from pytest_nemoeval.suite import request_key
from pytest_nemoeval.engine.transport import AttemptTimeout, ConnectionFailure, HttpResponse, Transport

FAIL_FAST_FAILURES = 5  # consecutive connection failures …
FAIL_FAST_SECONDS = 5.0  # … lasting at least this long mean the endpoint is down
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
CONNECTION_BACKOFF_CAP = 2.0  # refused connections are cheap to retry and must reach fail-fast quickly
RETRY_AFTER_CAP = 300.0
ROOT_PATHS = ("/tokenize", "/apply-template")  # served at the server root, not under /v1




@dataclass(frozen=True)
class Lane:
    """Where one kind of request goes: "model" (the model under test), "judge" (--judge-endpoint) or "user" (the
    simulated user of agentic suites, --user-endpoint)."""

    name: str
    url: str
    api_key_env: str
    parallelism: int
    model: str | None = None
    max_tokens: int | None = None  # the most a reply may take here, whatever a request asks (the embedded model)

    def spec(self) -> str:
        return json.dumps(self.__dict__)


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class _LaneState:
    """A lane at run time: its transport, its bound on requests in flight, its fail-fast streak."""

    def __init__(self, lane: Lane, key: str, timeout: float, stream: str) -> None:
        self.lane = lane
        self.url = f"{lane.url}/chat/completions"  # the lane's usual request; url_for() names the others
        self.transport = Transport({"Authorization": f"Bearer {key}"} if key else {}, timeout)
        self.streamer = Streamer(self.transport, stream)  # its chat requests, streamed while the endpoint accepts it
        self.slots = asyncio.Semaphore(lane.parallelism)
        self.dead: str | None = None
        self.streak = 0
        self.streak_started = 0.0
        self.context: ContextWindow | None = None  # set when the engine starts (it needs the lane's requests)

    def url_for(self, path: str) -> str:
        return (server_root(self.lane.url) if path in ROOT_PATHS else self.lane.url) + path


class GenerationEngine:
    """The async core; `run()` sends the whole plan and returns when every request has an outcome."""

    def __init__(self, lanes: list[Lane], store: ResponseStore, *, request_timeout: float, max_retries: int,
                 settings: dict[str, Any] | None = None, progress: Progress | None = None, first: int = 0) -> None:
        self._lane_specs = lanes
        self._store = store
        self._timeout = request_timeout
        self._max_retries = max_retries
        self._settings = settings or {}
        self._secrets = tuple(key for key in (os.environ.get(lane.api_key_env) for lane in lanes) if key)
        self._progress = progress
        self._lanes: dict[str, _LaneState] = {}
        self._fetching: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._scorer: LoglikelihoodScorer | None = None
        self._first = first  # the plan from this position (requests appended by --until-decided)

    async def run(self) -> None:
        sandbox.configure(self._settings)  # --sandbox-workers: this process runs the code suites' programs
        ticker = asyncio.ensure_future(self._tick()) if self._progress is not None else None
        stream = str(self._settings.get("stream") or "auto")
        self._lanes = {lane.name: _LaneState(lane, os.environ.get(lane.api_key_env) or "", self._timeout, stream)
                       for lane in self._lane_specs}
        for state in self._lanes.values():
            configured = self._settings.get("context_length") if state.lane.name == "model" else None
            state.context = self._context_window(state, configured)
        try:
            for state in self._lanes.values():
                await state.transport.__aenter__()
            await self._produce()
        except Exception as exc:  # a bug must not leave items waiting
            self._store.fail(STOPPED, self._redact(f"generation engine failed: {type(exc).__name__}: {exc}"))
            raise
        finally:
            if ticker is not None:
                ticker.cancel()
            for state in self._lanes.values():
                await state.transport.__aexit__(None, None, None)

    async def _tick(self) -> None:
        assert self._progress is not None
        while True:
            await asyncio.sleep(self._progress.interval)
            self._progress.tick()

    async def _produce(self) -> None:
        total = self._store.plan_size() - self._first
        if self._progress is not None:
            self._progress.total = total
        model = self._lanes["model"]
        drivers = asyncio.Semaphore(model.lane.parallelism)  # drivers alive at once
        tasks: set[asyncio.Task[None]] = set()
        try:
            for _position, key, payload in self._store.iter_plan(self._first):
                if model.dead:
                    break
                if self._store.has(key):
                    self._finish(key, None, cached=True)
                    continue
                if "driver" in payload or "loglikelihood" in payload:  # its requests take lane slots themselves
                    await drivers.acquire()
                    task = asyncio.create_task(self._answer(key, self._several(payload)))
                    task.add_done_callback(lambda t: (tasks.discard(t), drivers.release()))
                else:  # one chat request, or one raw completion (a base-model suite's generative item)
                    await model.slots.acquire()
                    path = "/completions" if "prompt" in payload else "/chat/completions"
                    task = asyncio.create_task(self._answer(key, self._fitting(model, payload, path)))
                    task.add_done_callback(lambda t: (tasks.discard(t), model.slots.release()))
                tasks.add(task)
            while tasks:
                await asyncio.wait(set(tasks))
        finally:
            pending = [*tasks, *self._fetching.values()]
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    def _context_window(self, state: _LaneState, configured: int | None) -> ContextWindow:
        async def get(url: str) -> Any:
            try:
                response = await state.transport.get(url)
                return json.loads(response.body) if response.status == 200 else None
            except (AttemptTimeout, ConnectionFailure, ValueError):
                return None  # not learned: the lane is not checked, its requests say why they fail

        async def post(path: str, payload: dict[str, Any]) -> dict[str, Any]:
            return await self._attempts(state, payload, path, raw=True)

        return ContextWindow(state.lane.url, server_root(state.lane.url), state.lane.model, configured, get, post)

    async def _fitting(self, state: _LaneState, payload: dict[str, Any], path: str) -> dict[str, Any]:
        """Send a request that fits the lane's context window; ContextOverflow (unsent) for one that does not."""
        assert state.context is not None
        cap = state.lane.max_tokens
        if cap is not None:
            payload = {**payload, "max_tokens": min(payload.get("max_tokens") or cap, cap)}
        await state.context.check(payload)
        return await self._attempts(state, payload, path)

    def _several(self, payload: dict[str, Any]) -> Awaitable[dict[str, Any]]:
        """A plan row that takes several requests: a suite's driver, or a sample's log-likelihoods."""
        if "driver" in payload:
            row = DriverRow.of(payload)
            return run_driver(row, Chat(row, self._settings, self.request))
        if self._scorer is None:
            self._scorer = LoglikelihoodScorer(self.send, payload["model"])
        return self._scorer.score(payload["loglikelihood"])

    async def send(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """One uncached request on the model lane to `path` (/completions, or /tokenize at the server root):
        its JSON, within the lane's bound and with its retries."""
        state = self._lanes["model"]
        async with state.slots:
            return await self._attempts(state, payload, path, raw=True)

    async def _answer(self, key: str, response: Awaitable[dict[str, Any]]) -> None:
        """Store a plan row's response, or its one-line failure."""
        try:
            body = await response
        except GenerationError as exc:
            self._finish(key, self._redact(str(exc)))
        else:
            self._store.put(key, body)
            self._finish(key, None)

    async def request(self, lane_name: str, payload: dict[str, Any], repeat: int,
                      occurrence: int = 0) -> dict[str, Any]:
        """One request of a driver, on a lane: from the cache, or sent within the lane's bound."""
        state = self._lanes.get(lane_name)
        if state is None:
            raise GenerationError(f"no '{lane_name}' endpoint is configured for this run")
        if state.lane.model is not None and not payload.get("model"):  # a driver's judge request may name its own
            payload = {**payload, "model": state.lane.model}
        key = request_key(payload, repeat, occurrence)
        body = self._store.get(key)
        if body is not None:
            return body
        fetch = self._fetching.get(key)
        if fetch is None:  # identical requests in flight at once (same judge prompt, ...) are sent once
            fetch = self._fetching[key] = asyncio.ensure_future(self._fetch(state, key, payload))
            fetch.add_done_callback(lambda _done: self._fetching.pop(key, None))
        return await asyncio.shield(fetch)

    async def _fetch(self, state: _LaneState, key: str, payload: dict[str, Any]) -> dict[str, Any]:
        async with state.slots:
            body = await self._fitting(state, payload, "/chat/completions")
        self._store.put(key, body)
        return body

    async def _attempts(self, state: _LaneState, payload: dict[str, Any], path: str = "/chat/completions",
                        raw: bool = False) -> dict[str, Any]:
        """Send with retries; the body (the response's JSON when raw), or GenerationError with the last reason."""
        url = state.url_for(path)
        last = "no attempt made"
        for attempt in range(self._max_retries + 1):
            if state.dead:
                raise EndpointDown(state.dead)
            try:
                with Flight(self._progress) as flight:
                    if raw or path != "/chat/completions":
                        response = await state.transport.post(url, payload)
                    else:  # streamed by --stream, so that its tokens are counted as they come
                        response = await state.streamer.post(url, payload, flight)
                return self._accept(state, url, response, time.monotonic() - flight.started, raw)
            except (_Retryable, StreamError) as exc:
                last, retry_after = str(exc), getattr(exc, "retry_after", None)
            except AttemptTimeout as exc:
                last, retry_after = f"{exc} ({self._timeout:g} s)", None
            except ConnectionFailure as exc:
                last = str(exc)
                self._connection_failed(state, last)
                if attempt < self._max_retries:
                    await asyncio.sleep(min(CONNECTION_BACKOFF_CAP, _backoff(attempt, None)))
                continue
            if attempt < self._max_retries:
                await asyncio.sleep(_backoff(attempt, retry_after))
        raise GenerationError(f"{last} (gave up after {self._max_retries + 1} attempts)")

    def _accept(self, state: _LaneState, url: str, response: HttpResponse, latency: float,
                raw: bool) -> dict[str, Any]:
        state.streak = 0
        status = response.status
        if status == 500 and MALFORMED_TOOL_CALL in _server_message(response.body):
            # the model's reply, not the server's failure: llama.cpp refuses to return a tool call that is not JSON,
            # where vLLM returns the text; the reply ends the conversation with no answer (wrong, not an error)
            return {"content": None, "tool_calls": None, "finish_reason": "malformed_tool_call",
                    "latency": round(latency, 4)}
        if status == 429 or status >= 500:
            raise _Retryable(f"HTTP {status}: {_server_message(response.body)}",
                             _retry_after(response.headers.get("Retry-After")))
        if status != 200:
            message = _server_message(response.body)
            raise (status == 400 and server_refusal(message)) or GenerationError(f"HTTP {status} from {url}: {message}")
        chat = url.endswith("/chat/completions")
        try:
            data = json.loads(response.body)
            if raw and isinstance(data, dict):
                return data
            choice = data["choices"][0]
            message = (choice.get("message") or {}) if chat else {"content": choice["text"]}
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            kind = "chat completion" if chat else "response"
            raise _Retryable(f"invalid response (not an OpenAI {kind}): {response.body[:120]!r}") from None
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

    def _connection_failed(self, state: _LaneState, reason: str) -> None:
        now = time.monotonic()
        if state.streak == 0:
            state.streak_started = now
        state.streak += 1
        if state.streak >= FAIL_FAST_FAILURES and now - state.streak_started >= FAIL_FAST_SECONDS and not state.dead:
            which = "endpoint" if state.lane.name == "model" else f"{state.lane.name} endpoint"
            state.dead = (f"{which} {state.url} is down: {state.streak} connection failures in a row over "
                          f"{now - state.streak_started:.0f} s (last: {reason}); stopped sending")
            if state.lane.name == "model":  # nothing more can be generated in this run
                self._store.fail(DEAD, state.dead)

    def _finish(self, key: str, error: str | None, cached: bool = False) -> None:
        if error:  # a context overflow too: it is recorded per run, never cached (another window may fit it)
            self._store.fail(key, error)
        if self._progress is not None:
            self._progress.advance(error=bool(error) and not is_overflow(error), cached=cached)

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


MALFORMED_TOOL_CALL = "Failed to parse tool call arguments as JSON"  # llama.cpp's server's words


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
