"""Run a harness that calls models itself, synchronously, inside a driver, with every call sent through `chat`.

An agent harness (tau2-bench's orchestrator, an agent loop, ...) keeps its own code and calls a model where it
likes; `run_in_thread(function, chat, *args)` runs it in a worker thread of the engine process, and each of its
calls to `current_chat()(messages, lane=..., **options)` blocks that thread while the request goes through the
engine's event loop: retries, response cache, lanes, bounds. A conversation rerun after a crash asks the same
questions in the same order, so every answered request comes from the cache (exact resume); an identical request
asked again within one conversation (a harness retrying an empty reply) is its `occurrence`, cached apart.
`openai_response(body)` gives a harness that expects an OpenAI chat completion the engine's reply in that shape.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import json
from collections import Counter
from typing import Any, Callable, TypeVar

from pytest_nemoeval.engine.drivers import Chat
from pytest_nemoeval.errors import DriverError

T = TypeVar("T")
HARNESS_THREADS = 1024  # conversations a process runs at once; each thread mostly waits on its model's reply
POLL_SECONDS = 0.5  # how soon a cancelled conversation's thread notices and stops

_current: contextvars.ContextVar["BlockingChat | None"] = contextvars.ContextVar("nemoeval_chat", default=None)
_pool: concurrent.futures.ThreadPoolExecutor | None = None


class HarnessCancelled(Exception):
    """The item was cancelled (-x, Ctrl-C): its harness thread stops at its next model call."""


class Occurrences:
    """Which time an identical request is asked within one item (0, 1, ...): its `occurrence`, cached apart."""

    def __init__(self) -> None:
        self._asked: Counter[str] = Counter()

    def next(self, *request: Any) -> int:
        identity = json.dumps(request, sort_keys=True, default=str)
        occurrence = self._asked[identity]
        self._asked[identity] += 1
        return occurrence


class BlockingChat:
    """`chat` for a harness thread: each call blocks until the engine's loop has the reply."""

    def __init__(self, chat: Chat, loop: asyncio.AbstractEventLoop) -> None:
        self.chat = chat
        self.cancelled = False
        self.replies: list[tuple[str, dict[str, Any]]] = []  # (lane, reply) of every call, in order: accounting
        self._loop = loop
        self._occurrences = Occurrences()

    def __call__(self, messages: list[dict[str, Any]], *, lane: str = "model", **options: Any) -> dict[str, Any]:
        if self.cancelled:
            raise HarnessCancelled("cancelled")
        occurrence = self._occurrences.next(lane, messages, options)
        future = asyncio.run_coroutine_threadsafe(
            self.chat(messages, lane=lane, occurrence=occurrence, **options), self._loop)
        while True:
            try:
                body = future.result(timeout=POLL_SECONDS)
            except concurrent.futures.TimeoutError:
                if self.cancelled:
                    future.cancel()
                    raise HarnessCancelled("cancelled") from None
            else:
                self.replies.append((lane, body))
                return body


def current_chat() -> BlockingChat:
    """The chat of the conversation running in this thread (inside run_in_thread)."""
    chat = _current.get()
    if chat is None:
        raise DriverError("a harness called its model outside run_in_thread(): nothing routes the call")
    return chat


async def run_in_thread(function: Callable[..., T], chat: Chat, *args: Any) -> T:
    """`function(*args)` in a harness thread whose model calls go through `chat`; its result or its exception."""
    global _pool
    if _pool is None:
        _pool = concurrent.futures.ThreadPoolExecutor(HARNESS_THREADS, thread_name_prefix="nemoeval-harness")
    loop = asyncio.get_running_loop()
    blocking = BlockingChat(chat, loop)
    context = contextvars.copy_context()
    context.run(_current.set, blocking)
    try:
        return await loop.run_in_executor(_pool, functools.partial(context.run, function, *args))
    except asyncio.CancelledError:
        blocking.cancelled = True
        raise


def openai_response(body: dict[str, Any], model: str) -> dict[str, Any]:
    """An engine reply (drivers.py's response body) as the OpenAI chat completion it came from."""
    message: dict[str, Any] = {"role": "assistant", "content": body.get("content")}
    if body.get("tool_calls"):
        message["tool_calls"] = body["tool_calls"]
    if body.get("reasoning_content"):
        message["reasoning_content"] = body["reasoning_content"]
    usage = {"prompt_tokens": body.get("prompt_tokens") or 0, "completion_tokens": body.get("completion_tokens") or 0}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return {"id": "nemoeval", "object": "chat.completion", "model": model, "usage": usage,
            "choices": [{"index": 0, "message": message, "finish_reason": body.get("finish_reason") or "stop"}]}
