"""Streamed chat completions: a request sent with `stream: true`, its server-sent chunks assembled into the body a
whole (non-streamed) reply has, so that parsing, the cache and scoring never see the difference.

Streaming is a transport detail: it is added to the payload when sending, after the cache key was made from the
request. It lets the status line count tokens while a long request is in flight. A server that refuses it (a 4xx
naming `stream`, which the request sent whole does not get) is sent whole from then on; one that ignores it answers
whole anyway. A request that offers `tools` is always sent whole: a reply of tool calls alone says its content as
"" (llama.cpp) or null (vLLM, by tool parser) in a whole reply, which its stream does not tell, and vLLM's
streaming tool parsers are not its whole-reply ones. Chunk format: OpenAI's chat.completion.chunk, as vLLM and
llama.cpp's server send it (`choices[0].delta` with content and reasoning_content or reasoning, `finish_reason`,
and with `stream_options.include_usage` a last chunk with `usage` and no choices).
"""

from __future__ import annotations

import json
from typing import Any, Callable

from pytest_nemoeval.engine.progress import Flight
from pytest_nemoeval.engine.transport import HttpResponse, Transport

STREAM = {"stream": True, "stream_options": {"include_usage": True}}
# --stream auto streams a prompt this long (about 8K tokens): the requests that run for minutes. Not every request:
# a chunk costs the engine about 13 us (benchmarks/streaming.py), most of a core at 50,000 tokens/s.
LONG_PROMPT = 32_000  # characters
REFUSALS = (400, 422, 501)  # what a server that cannot stream answers to `stream: true`, naming it in its message


class StreamError(Exception):
    """The stream carried an error, or ended without a reply (retried as an invalid response is)."""


class Assembly:
    """The chunks of one streamed chat completion, merged into a whole chat.completion body."""

    def __init__(self) -> None:
        self.texts: dict[str, list[str]] = {"content": [], "reasoning_content": []}  # the pieces, in order
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.chunks = 0
        self.done = False  # `[DONE]` came

    def feed(self, chunk: dict[str, Any]) -> int:
        """Merge one chunk; the number of generated pieces it carried (about one token each)."""
        if "error" in chunk:
            error = chunk["error"]
            message = error.get("message", error) if isinstance(error, dict) else error
            raise StreamError(f"the stream ended with an error: {message}")
        self.chunks += 1
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        pieces = 0
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            for field, name in (("content", "content"), ("reasoning_content", "reasoning_content"),
                                ("reasoning", "reasoning_content")):
                if delta.get(field) and isinstance(delta[field], str):
                    self.texts[name].append(delta[field])
                    pieces += 1
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return pieces

    def body(self) -> dict[str, Any]:
        if self.finish_reason is None and not self.done:
            raise StreamError(f"the stream ended before the reply did ({self.chunks} chunks)")
        reasoning = "".join(self.texts["reasoning_content"])
        # no text: an empty reply is "" (both servers); one that only reasoned (cut off) is null, as vLLM says it
        content = "".join(self.texts["content"]) or (None if reasoning else "")
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if reasoning:
            message["reasoning_content"] = reasoning
        whole: dict[str, Any] = {"object": "chat.completion",
                                 "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason}]}
        if self.usage is not None:
            whole["usage"] = self.usage
        return whole


class Streamer:
    """Sends a lane's chat requests streamed while its endpoint accepts that (remembered per endpoint)."""

    def __init__(self, transport: Transport, mode: str) -> None:
        self.transport = transport
        self.mode = mode  # --stream: on, auto (long prompts), off

    def wanted(self, payload: dict[str, Any]) -> bool:
        if self.mode == "off" or payload.get("tools"):
            return False
        return self.mode == "on" or sum(len(str(message.get("content") or ""))
                                        for message in payload.get("messages") or []) >= LONG_PROMPT

    async def post(self, url: str, payload: dict[str, Any], flight: Flight) -> HttpResponse:
        if not self.wanted(payload):
            return await self.transport.post(url, payload)
        assembly = Assembly()
        flight.streaming = True
        response = await self.transport.post(url, {**payload, **STREAM}, events=_reader(assembly, flight))
        if response.status in REFUSALS and b"stream" in response.body.lower():
            flight.streaming = False
            whole = await self.transport.post(url, payload)
            if whole.status == 200:  # it was the streaming it refused: this endpoint is sent whole from now on
                self.mode = "off"
            return whole
        if not response.streamed:  # a server that ignores `stream` answers whole: nothing to assemble
            return response
        if assembly.usage and isinstance(assembly.usage.get("completion_tokens"), int):
            flight.settle(assembly.usage["completion_tokens"])  # the exact count replaces the pieces counted
        return HttpResponse(200, response.headers, json.dumps(assembly.body()).encode())


def _reader(assembly: Assembly, flight: Flight) -> Callable[[bytes], bool]:
    """The transport's handler of one `data:` payload; False at `[DONE]`."""
    def event(data: bytes) -> bool:
        if data.strip() == b"[DONE]":
            assembly.done = True
            return False
        try:
            chunk = json.loads(data)
        except ValueError:
            raise StreamError(f"invalid chunk in the stream: {data[:120]!r}") from None
        if not isinstance(chunk, dict):
            raise StreamError(f"invalid chunk in the stream: {data[:120]!r}")
        flight.generated(assembly.feed(chunk))
        return True

    return event
