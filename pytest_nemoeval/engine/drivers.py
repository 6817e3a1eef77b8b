"""Suite drivers: items that need more than one request, or work that must overlap with generation.

A suite with `driver=fn` has `async def fn(sample, chat) -> dict` run by the engine process, one task per
(sample, repeat), up to --parallelism at once. `await chat(messages, **options)` sends one request on the
model lane (the suite's generation settings, overridden by `options`, e.g. `tools=[...]`);
`lane="judge"` sends it to the judge endpoint (--judge-*), `lane="user"` to the user simulator (--user-*), with
only `options` as settings. A `seed` in `options` is sent as given (a harness's own per-trial seed); the suite's
seed is offset by the repeat. `occurrence=n` marks the n-th identical request of one item (a harness asking
again for a fresh reply): it is cached apart. Every request is cached, retried and bounded like a plain one; a
failed one raises GenerationError, which fails the item. engine/bridge.py runs a harness that calls the model
itself (synchronously) with each of its calls sent through `chat`.
The driver's return value (a JSON-serialisable dict) is the item's response: "content" (and
"reasoning_content", "tool_calls") become `response.text` etc., the whole dict is `response.body`.
A suite with `tools=` (pytest_nemoeval/tools) runs each `await chat(...)` on the model lane as a tool loop,
and a suite with tools but no driver runs `single_request`: its one request, as a tool loop.
"""

from __future__ import annotations

import asyncio
import json
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

from pytest_nemoeval.errors import DriverError, GenerationError
from pytest_nemoeval.suite import Messages, build_payload, load_suite_module
from pytest_nemoeval.tools import tool_loop, tools_from

Requester = Callable[[str, dict[str, Any], int, int], Awaitable[dict[str, Any]]]



@dataclass(frozen=True)
class DriverRow:
    """What the plan holds for a driver item (see NemoEvalSession.request_for)."""

    path: str
    function: str
    sample: dict[str, Any]
    messages: Messages
    model: str
    generation: dict[str, Any]
    repeat: int
    tools: tuple[dict[str, Any], ...] = ()  # each tool's config(); the path is "" for single_request
    data: dict[str, Any] | None = None  # the recipe's data options of this suite (benchmarks.<name>.data)
    judge_model: str | None = None  # the model its judge requests name (None: the judge lane's own)

    @classmethod
    def of(cls, payload: dict[str, Any]) -> "DriverRow":
        driver = payload["driver"]
        return cls(driver["path"], driver["function"], payload["sample"], payload["messages"], payload["model"],
                   payload["generation"], payload["repeat"], tuple(payload.get("tools", ())), payload.get("data"),
                   payload.get("judge_model"))

    def payload(self) -> dict[str, Any]:
        payload = {"driver": {"path": self.path, "function": self.function}, "sample": self.sample,
                   "messages": self.messages, "model": self.model, "generation": self.generation,
                   "repeat": self.repeat, "data": self.data}
        if self.tools:  # absent without tools: the keys of the other drivers' items stay as they were
            payload["tools"] = list(self.tools)
        if self.judge_model:
            payload["judge_model"] = self.judge_model
        return payload


class Chat:
    """Handed to a driver: `await chat(messages, lane="model", **options)` returns the response body."""

    def __init__(self, row: DriverRow, settings: dict[str, Any], request: Requester) -> None:
        self.sample = row.sample
        self.messages = row.messages  # the suite's prompt for this sample (system prompt included)
        self.repeat = row.repeat
        self.model = row.model  # the served model's name
        self.suite_path = row.path  # the suite module whose driver this is
        self.settings = settings  # the resolved run configuration (e.g. settings["sandbox_workers"])
        self.data = row.data or {}  # the recipe's data options of this suite (e.g. HLE's judge kind)
        self._row = row
        self._request = request
        self._tools = tools_from(row.tools)

    async def __call__(self, messages: Messages, *, lane: str = "model", **options: Any) -> dict[str, Any]:
        if lane == "model" and self._tools:
            if "tools" in options:
                raise DriverError("a suite with tools= offers its own tools: its driver must not pass tools=")
            return await tool_loop(self._send, messages, self._tools, self._row.generation.get("max_tool_calls"),
                                   **options)
        return await self._send(messages, lane=lane, **options)

    async def _send(self, messages: Messages, *, lane: str = "model", occurrence: int = 0,
                    **options: Any) -> dict[str, Any]:
        seed = options.pop("seed", None)
        if lane == "model":
            payload = build_payload(messages, self._row.model, {**self._row.generation, **options}, self.repeat)
        else:  # the judge model the row names, else the lane's (the user lane's is always its own)
            model = self._row.judge_model or "" if lane == "judge" else ""
            payload = build_payload(messages, model, options, self.repeat)
        if seed is not None:
            payload["seed"] = seed
        return await self._request(lane, payload, self.repeat, occurrence)


async def single_request(sample: dict[str, Any], chat: Chat) -> dict[str, Any]:
    """The driver of a suite with tools and no driver of its own: its one request (a tool loop)."""
    return await chat(chat.messages)


def load_driver(path: str, function: str) -> Callable[..., Awaitable[dict[str, Any]]]:
    if not path:
        return single_request
    driver = getattr(load_suite_module(path), function, None)
    if not callable(driver):
        raise DriverError(f"{path} has no driver function {function}()")
    return driver


async def run_driver(row: DriverRow, chat: Chat) -> dict[str, Any]:
    """Run one driver; its result, or an exception whose message is one line for the item's failure."""
    try:
        driver = load_driver(row.path, row.function)
        result = await driver(row.sample, chat)
    except (GenerationError, asyncio.CancelledError):
        raise
    except DriverError as exc:
        raise GenerationError(str(exc)) from None
    except Exception as exc:  # a bug in the suite's driver fails its item, never the engine
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        raise GenerationError(f"driver {row.function}() failed: {type(exc).__name__}: {exc} "
                              f"({Path(frame.filename).name}:{frame.lineno})") from None
    if not isinstance(result, dict):
        raise GenerationError(f"driver {row.function}() returned {type(result).__name__}, expected a dict")
    try:
        json.dumps(result)
    except (TypeError, ValueError) as exc:
        raise GenerationError(f"driver {row.function}() returned a dict that is not JSON-serialisable: {exc}") from None
    return result
