"""The served model's context window, and whether a request fits it, checked before the request is sent.

The window is learned once per lane at the first request: `--context-length` (recipe `context_length`) if
given, else what the server reports: llama.cpp's `/props` (`default_generation_settings.n_ctx`, one slot's
context) or vLLM's `max_model_len` in `/v1/models`. A server that reports neither (a hosted API) is not
checked; its own refusal (HTTP 400 naming the context) is still the item's soft-fail, not a harness error.

A request fits when its prompt's tokens plus its generation budget (`max_tokens`, else 1) are at most the
window. The prompt is counted by the server itself: vLLM's `/tokenize` applies the chat template to the
messages; llama.cpp renders them with `/apply-template` and counts with `/tokenize`. A request that is surely
small is not counted: a token is at least one byte of the rendered prompt (byte-level BPE, SentencePiece with
byte fallback), so the prompt's UTF-8 size plus a margin for the template bounds its tokens from above.

A request that does not fit is not sent; its item counts as wrong with no answer, as NeMo Skills' soft-fail
counts it, and results.json counts it as `context_overflow` (not in error_rate).
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

from pytest_nemoeval.errors import ContextOverflow, GenerationError

OVERFLOW_KEY = "context_overflow"  # the item's record names its overflow here (samples.jsonl, results.json)
OVERFLOW = "context overflow: "  # the start of every ContextOverflow message (items recognise it by this)
TEMPLATE_MARGIN = 512  # tokens a chat template may add (role markers, a default system prompt)
# the servers' own words for a request beyond the context (vLLM; llama.cpp's server)
SERVER_WORDS = ("maximum context length", "exceeds the available context size", "exceed_context_size")

GetJson = Callable[[str], Awaitable[Any]]  # GET url -> JSON, or None when it is not served
PostJson = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]  # POST a path of the server root (retried) -> JSON


def is_overflow(error: str) -> bool:
    return error.startswith(OVERFLOW)


def server_refusal(message: str) -> ContextOverflow | None:
    """The server's own HTTP 400 for a request beyond its context, as the item's soft-fail."""
    if any(words in message for words in SERVER_WORDS):
        return ContextOverflow(f"{OVERFLOW}the server refused the request: {message}")
    return None


def generation_budget(payload: dict[str, Any]) -> int:
    budget = payload.get("max_tokens") or payload.get("max_completion_tokens")
    return int(budget) if isinstance(budget, (int, float)) and budget > 0 else 1


class ContextWindow:
    """One lane's window and its token counts. `check(payload)` raises ContextOverflow when it cannot fit."""

    def __init__(self, base_url: str, root_url: str, model: str | None, configured: int | None,
                 get: GetJson, post: PostJson) -> None:
        self.base_url = base_url
        self.root_url = root_url
        self.model = model
        self.configured = configured
        self._get = get
        self._post = post
        self.window: int | None = None
        self.server: str | None = None  # "vllm" or "llama.cpp": how prompts are counted
        self._learned = False

    async def learn(self) -> int | None:
        if self._learned:
            return self.window
        props = await self._get(f"{self.root_url}/props")
        settings = props.get("default_generation_settings") if isinstance(props, dict) else None
        if isinstance(settings, dict):
            self.server, self.window = "llama.cpp", _positive(settings.get("n_ctx"))
        else:
            listing = await self._get(f"{self.base_url}/models")
            entries = listing.get("data") if isinstance(listing, dict) else None
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict) and (self.model is None or entry.get("id") == self.model) \
                        and _positive(entry.get("max_model_len")):
                    self.server, self.window = "vllm", _positive(entry["max_model_len"])
                    break
        if self.configured:
            self.window = self.configured
            self.server = self.server or "vllm"  # an OpenAI-style /tokenize, the usual one
        self._learned = True
        return self.window

    async def check(self, payload: dict[str, Any]) -> None:
        window = await self.learn()
        if window is None:
            return
        budget = generation_budget(payload)
        if _byte_bound(payload) + budget <= window:
            return
        prompt = await self.count(payload)
        if prompt + budget > window:
            raise ContextOverflow(
                f"{OVERFLOW}the prompt is {prompt:,} tokens and {budget:,} are to be generated: {prompt + budget:,} "
                f"> the maximum context length of {window:,} tokens, over by {prompt + budget - window:,}")

    async def count(self, payload: dict[str, Any]) -> int:
        """The prompt's tokens as the server counts them (chat template applied to messages)."""
        tools = {"tools": payload["tools"]} if payload.get("tools") else {}
        if "prompt" in payload:
            prompt = payload["prompt"]
            if isinstance(prompt, list):
                return len(prompt)
            return await self._tokens(str(prompt), special=True)
        if self.server == "llama.cpp":
            rendered = await self._post("/apply-template", {"messages": payload["messages"], **tools})
            return await self._tokens(str(rendered.get("prompt", "")), special=False)
        body = await self._post("/tokenize", {"model": payload.get("model") or self.model,
                                                              "messages": payload["messages"],
                                                              "add_generation_prompt": True, **tools})
        return _counted(body)

    async def _tokens(self, text: str, special: bool) -> int:
        if self.server == "llama.cpp":  # a rendered template holds its special tokens as text: parse them
            body = await self._post("/tokenize", {"content": text, "add_special": special,
                                                                  "parse_special": True})
        else:
            body = await self._post("/tokenize", {"model": self.model, "prompt": text,
                                                                  "add_special_tokens": special})
        return _counted(body)


def _byte_bound(payload: dict[str, Any]) -> int:
    """More tokens than the prompt can have (see the module docstring)."""
    prompt = payload.get("prompt", payload.get("messages"))
    if isinstance(prompt, list) and all(isinstance(token, int) for token in prompt):
        return len(prompt)
    text = json.dumps([prompt, payload.get("tools")], ensure_ascii=False)
    return len(text.encode()) + TEMPLATE_MARGIN


def _counted(body: dict[str, Any]) -> int:
    count = body.get("count")
    if isinstance(count, int):
        return count
    tokens = body.get("tokens")
    if isinstance(tokens, list):
        return len(tokens)
    raise GenerationError(f"/tokenize returned no token count: {str(body)[:120]}")


def _positive(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None
