"""Log-likelihood of continuations, as lm-evaluation-harness computes it for completions APIs.

One plan row holds a sample's (context, continuation) pairs (each context once) and the server path the probe found
(completions.py). For each pair, as lm_eval/api/model.py `_encode_pair` and models/api_models.py do:

- trailing whitespace of the context moves to the front of the continuation;
- context tokens = tokenize(context); continuation tokens = tokenize(context + continuation)[len(context tokens):]
  (by count: where a token spans the boundary, the continuation starts after as many tokens as the context
  has on its own), tokenized without special tokens;
- more than `max_length` tokens in all: the oldest context tokens are dropped (`[-max_length:]`);
- the result: the sum of the continuation tokens' log-probs, and whether each was the most likely token.

"echo" (vLLM): one request per pair, the token ids as the prompt, `echo` + `logprobs` 1 + `max_tokens` 1;
the continuation's log-probs are `token_logprobs[ctxlen:-1]` (models/openai_completions.py `parse_logprobs`).
"teacher_forcing" (llama.cpp): one request per continuation token j, prompt = context + continuation[:j],
`logit_bias` forcing token j, `max_tokens` 1, `logprobs` 1: the server reports that token's log-prob under the
raw distribution and the top token. A sample's requests go one after another on one slot (`id_slot`), so the
server's prompt cache evaluates each prompt's one new token only.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any, Awaitable, Callable

from pytest_nemoeval.completions import tokenize_payload
from pytest_nemoeval.errors import GenerationError

# (path, payload) -> the response's JSON
Send = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
FORCE_BIAS = 100
TOKENIZED_KEPT = 4096  # contexts repeat across a sample's choices: their token ids are kept this long


class LoglikelihoodScorer:
    """Scores plan rows of log-likelihood items (one per engine: it holds the slot pool and tokenizations)."""

    def __init__(self, send: Send, model: str) -> None:
        self._send = send
        self._model = model
        self._tokenized: OrderedDict[str, list[int]] = OrderedDict()
        self._slots: asyncio.Queue[int] | None = None

    async def score(self, spec: dict[str, Any]) -> dict[str, Any]:
        contexts = spec["contexts"]  # the plan holds each context once and the pairs as (context index, continuation)
        pairs = [(str(contexts[context]), str(continuation)) for context, continuation in spec["requests"]]
        server, method = spec["server"], spec["method"]
        encoded = [await self._encode(server, context, continuation) for context, continuation in pairs]
        encoded = [_truncate(context, continuation, spec.get("max_length")) for context, continuation in encoded]
        if method == "echo":
            scored = await asyncio.gather(*(self._echo(context, continuation) for context, continuation in encoded))
        elif method == "teacher_forcing":
            scored = await self._forced_on_one_slot(encoded, int(spec.get("slots") or 1), spec.get("pin", True))
        else:
            raise GenerationError(f"unknown log-likelihood method {method!r}")
        return {"loglikelihoods": [[total, greedy] for total, greedy in scored], "method": method,
                "continuation_tokens": [len(continuation) for _context, continuation in encoded]}

    async def _encode(self, server: str, context: str, continuation: str) -> tuple[list[int], list[int]]:
        spaces = len(context) - len(context.rstrip())
        if spaces:
            context, continuation = context[:-spaces], context[-spaces:] + continuation
        if not context:
            raise GenerationError("an empty context needs the model's prefix token, which the completions API "
                                  "does not expose; give the task a non-empty context")
        whole = await self._tokens(server, context + continuation)
        context_ids = await self._tokens(server, context)
        return context_ids, whole[len(context_ids):]

    async def _tokens(self, server: str, text: str) -> list[int]:
        ids = self._tokenized.get(text)
        if ids is None:
            body = await self._send("/tokenize", tokenize_payload(server, self._model, text))
            ids = body.get("tokens")
            if not isinstance(ids, list) or not all(isinstance(token, int) for token in ids):
                raise GenerationError(f"/tokenize returned no token ids: {str(body)[:120]}")
            self._tokenized[text] = ids
            if len(self._tokenized) > TOKENIZED_KEPT:
                self._tokenized.popitem(last=False)
        else:
            self._tokenized.move_to_end(text)
        return ids

    async def _echo(self, context: list[int], continuation: list[int]) -> tuple[float, bool]:
        body = await self._send("/completions", {"model": self._model, "prompt": context + continuation,
                                                 "max_tokens": 1, "temperature": 0, "logprobs": 1, "echo": True})
        try:
            logprobs = body["choices"][0]["logprobs"]
            values = logprobs["token_logprobs"][len(context):-1]
            tops = logprobs["top_logprobs"][len(context):-1]
        except (KeyError, IndexError, TypeError):
            raise GenerationError(f"the echo response has no prompt log-probs: {str(body)[:120]}") from None
        if len(values) != len(continuation) or any(value is None for value in values):
            raise GenerationError(f"the echo response scored {len(values)} of {len(continuation)} continuation tokens")
        greedy = all(value == max(top.values()) for value, top in zip(values, tops))
        return float(sum(values)), greedy

    async def _forced_on_one_slot(self, encoded: list[tuple[list[int], list[int]]], slots: int,
                                  pin: bool) -> list[tuple[float, bool]]:
        if self._slots is None:
            self._slots = asyncio.Queue()
            for slot in range(slots):
                self._slots.put_nowait(slot)
        slot = await self._slots.get()
        try:
            return [await self._forced(context, continuation, slot if pin else -1) for context, continuation in encoded]
        finally:
            self._slots.put_nowait(slot)

    async def _forced(self, context: list[int], continuation: list[int], slot: int) -> tuple[float, bool]:
        total, greedy = 0.0, True
        for position, token in enumerate(continuation):
            body = await self._send("/completions", {
                "model": self._model, "prompt": context + continuation[:position], "max_tokens": 1,
                "temperature": 0, "logprobs": 1, "logit_bias": {str(token): FORCE_BIAS}, "id_slot": slot,
                "cache_prompt": True})
            try:
                scored = body["choices"][0]["logprobs"]["content"][0]
                logprob, top = float(scored["logprob"]), scored["top_logprobs"][0]
            except (KeyError, IndexError, TypeError, ValueError):
                raise GenerationError(f"the forced-token response has no log-probs: {str(body)[:120]}") from None
            if scored.get("id") != token:
                raise GenerationError(f"logit_bias did not force token {token} (the server sampled {scored.get('id')})")
            total += logprob
            greedy = greedy and (top.get("id") == token or logprob >= float(top["logprob"]))
        return total, greedy


def _truncate(context: list[int], continuation: list[int], max_length: int | None) -> tuple[list[int], list[int]]:
    """The harness keeps the last max_length tokens: the context loses its oldest ones."""
    if max_length is None or len(context) + len(continuation) <= max_length:
        return context, continuation
    whole = (context + continuation)[-max_length:]
    kept = len(whole) - len(continuation)
    if kept <= 0:
        raise GenerationError(f"the continuation alone has {len(continuation)} tokens, "
                              f"more than max_length {max_length}")
    return whole[:kept], continuation
