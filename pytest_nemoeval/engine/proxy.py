"""An OpenAI-compatible endpoint in the engine process, for harnesses that call a model from another process.

An agent that runs as its own program (Harbor's Terminus-2 or OpenHands, in a subprocess or a container) cannot
call `chat`; it is pointed at this endpoint instead, with a key that names its item: `async with
routed(chat) as (base_url, key)` gives both, for the time the item runs. Each `POST {base_url}/chat/completions`
with `Authorization: Bearer {key}` is sent as `chat(messages, lane="model", **settings)`: through the engine's
lanes, retries, response cache, context check and status line, the real endpoint's key never leaving the engine
(the agent's key is a random token, worthless once its item ends). The request's own settings (temperature,
max_tokens, tools, ...) are sent as the agent gives them; the suite's generation settings fill in the rest.
An identical request asked again within one item is its `occurrence` (bridge.py): cached apart, so a rerun
replays a conversation from the cache in order (exact resume).
A request the engine cannot answer gets the status an OpenAI client understands: 400 for a prompt over the
context, 502 for a failed generation (the agent's own retry logic then decides), 401 for an unknown key; the
driver learns of a failure other than a full context (`traffic(key)`) and fails the item rather than grade what the
agent left.
`stream: true` is answered as one server-sent chunk then `[DONE]` (the engine's reply, whole once it has it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import weakref
from typing import Any, AsyncIterator

from aiohttp import web

from pytest_nemoeval.engine.bridge import Occurrences, openai_response
from pytest_nemoeval.engine.drivers import Chat
from pytest_nemoeval.errors import ContextOverflow, GenerationError, context_exceeded

# OpenAI request fields that are not generation settings (the model is the suite's; `user` is a client label)
NOT_SETTINGS = ("model", "messages", "stream", "stream_options", "user", "n")


class _Route:
    def __init__(self, chat: Chat) -> None:
        self.chat = chat
        self.occurrences = Occurrences()
        self.requests = 0
        self.failure: str | None = None  # the last request the engine could not answer


class Proxy:
    """The engine process's one proxy server (127.0.0.1, a free port), started on first use."""

    def __init__(self) -> None:
        self.routes: dict[str, _Route] = {}
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self._urls: dict[str, str] = {}  # another address it listens on -> its base URL

    async def start(self) -> None:
        if self._runner is not None:
            return
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_get("/v1/models", self._models)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        self._runner, self.base_url = runner, f"http://127.0.0.1:{port}/v1"

    async def url_on(self, host: str) -> str:
        """The base URL on `host` too (a Docker network's gateway, for agents inside containers)."""
        if host not in self._urls:
            assert self._runner is not None
            site = web.TCPSite(self._runner, host, 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._urls[host] = f"http://{host}:{port}/v1"
        return self._urls[host]

    def _route(self, request: web.Request) -> _Route | None:
        key = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return self.routes.get(key)

    async def _models(self, request: web.Request) -> web.Response:
        route = self._route(request)
        if route is None:
            return _error(401, "unknown key: this endpoint serves the items of a running pytest-nemoeval engine")
        return web.json_response({"object": "list", "data": [{"id": route.chat.model, "object": "model"}]})

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        route = self._route(request)
        if route is None:
            return _error(401, "unknown key: this endpoint serves the items of a running pytest-nemoeval engine")
        try:
            body = await request.json()
            messages = body["messages"]
        except (ValueError, KeyError, TypeError):
            return _error(400, "the body must be a JSON chat-completions request with messages")
        settings = {key: value for key, value in body.items() if key not in NOT_SETTINGS}
        occurrence = route.occurrences.next(messages, settings)
        route.requests += 1
        try:
            reply = await route.chat(messages, lane="model", occurrence=occurrence, **settings)
        except GenerationError as exc:
            if isinstance(exc, ContextOverflow) or context_exceeded(exc):  # the conversation's end, the agent's call
                return _error(400, f"context_length_exceeded: {exc}", "context_length_exceeded")
            route.failure = str(exc)
            return _error(502, f"the engine could not get a reply: {exc}")
        completion = openai_response(reply, route.chat.model)
        if not body.get("stream"):
            return web.json_response(completion)
        return await _one_chunk_stream(request, completion)


async def _one_chunk_stream(request: web.Request, completion: dict[str, Any]) -> web.StreamResponse:
    choice = completion["choices"][0]
    chunk = {**completion, "object": "chat.completion.chunk",
             "choices": [{"index": 0, "delta": choice["message"], "finish_reason": choice["finish_reason"]}]}
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode())
    await response.write_eof()
    return response


def _error(status: int, message: str, code: str | None = None) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "invalid_request_error" if status < 500
                                        else "server_error", "code": code}}, status=status)


_proxies: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Proxy] = weakref.WeakKeyDictionary()


def _proxy() -> Proxy:
    """The running loop's proxy (a server belongs to one loop: the engine's)."""
    return _proxies.setdefault(asyncio.get_running_loop(), Proxy())


@contextlib.asynccontextmanager
async def routed(chat: Chat, host: str | None = None) -> AsyncIterator[tuple[str, str]]:
    """(base_url, key) of this item on the engine's proxy, valid until the block ends; on `host` (an address
    containers reach) instead of 127.0.0.1 when given."""
    proxy = _proxy()
    await proxy.start()
    base_url = await proxy.url_on(host) if host else proxy.base_url
    key = "nemoeval-" + secrets.token_urlsafe(24)
    proxy.routes[key] = _Route(chat)
    try:
        yield base_url, key
    finally:
        del proxy.routes[key]


def traffic(key: str) -> tuple[int, str | None]:
    """(requests sent, the last failure's message or None) of the item of this key, inside its routed() block."""
    route = _proxy().routes[key]
    return route.requests, route.failure
