"""A toy language model behind the completions API, for the mock server's `--lm MODE` (hand-computable log-probs).

Tokens are runs of non-space characters with their leading whitespace (`\\s*\\S+`, or trailing whitespace alone);
ids are given in order of first sight. The model ignores the context: the token " the" has log-prob -0.25 and
is the most likely one; any other token has -0.5 per character. So a continuation's log-likelihood is
-0.5 x its characters (" the" counting -0.25), and it is greedy only if all of its tokens are " the".

MODE vllm: /tokenize {"prompt"}, no /props; /v1/completions honours `echo` with legacy `logprobs`
(token_logprobs, top_logprobs dicts; the first prompt token's is null), as vLLM does.
MODE llama: /props {"total_slots": 2}, /tokenize {"content"}; /v1/completions ignores `echo`, honours
`logit_bias` and answers `logprobs` in llama.cpp's "content" form (raw log-prob of the sampled token, and the
top one); `id_slot` is counted per slot (GET /stats: "slots"), and "slot_log" lists each slot's prompts by
their first token.
--fault 500:N / 429:N apply to completions after the first --lm-faults-after of them (the probe's).
MODE plain: /v1/completions answers text only (no echo, no logit_bias, no log-probs).
Without --lm the server has no /v1/completions (a chat-only API).
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

TOKEN = re.compile(r"\s*\S+|\s+")
TOP = " the"


class ToyModel:
    def __init__(self) -> None:
        self.ids: dict[str, int] = {TOP: 0}
        self.texts: list[str] = [TOP]

    def tokenize(self, text: str) -> list[int]:
        return [self.id(piece) for piece in TOKEN.findall(text)]

    def id(self, piece: str) -> int:
        if piece not in self.ids:
            self.ids[piece] = len(self.texts)
            self.texts.append(piece)
        return self.ids[piece]

    def logprob(self, token: int) -> float:
        text = self.texts[token]
        return -0.25 if text == TOP else -0.5 * len(text)


def add_routes(app: web.Application, mode: str, state: dict[str, Any], answer: str, faults_after: int = 0) -> None:
    model = ToyModel()
    state.update(completions=0, slots={}, slot_log={})

    async def tokenize(request: web.Request) -> web.Response:
        payload = await request.json()
        text = payload.get("content" if mode == "llama" else "prompt")
        if not isinstance(text, str):
            return web.json_response({"error": {"message": "missing field"}}, status=400)
        return web.json_response({"tokens": model.tokenize(text)})

    async def props(request: web.Request) -> web.Response:
        return web.json_response({"total_slots": 2})

    async def completions(request: web.Request) -> web.Response:
        state["completions"] += 1
        payload = await request.json()
        fault = state["faults"].pop(0) if state["faults"] and state["completions"] > faults_after else None
        if fault in ("500", "429"):
            return web.json_response({"error": {"message": "busy"}}, status=int(fault), headers={"Retry-After": "0"})
        prompt = payload.get("prompt")
        ids = prompt if isinstance(prompt, list) else model.tokenize(str(prompt))
        choice: dict[str, Any] = {"index": 0, "text": answer, "finish_reason": "length"}
        if mode == "vllm" and payload.get("echo") and payload.get("logprobs"):
            scored = ids + [0]
            values = [None] + [model.logprob(token) for token in scored[1:]]
            tops = [None] + [{model.texts[token]: model.logprob(token), TOP: -0.25} for token in scored[1:]]
            choice.update(text=TOP, logprobs={"tokens": [model.texts[token] for token in scored],
                                              "token_logprobs": values, "top_logprobs": tops})
        elif mode == "llama" and payload.get("logprobs"):
            bias = payload.get("logit_bias") or {}
            sampled = int(next(iter(bias))) if bias else 0
            slot = int(payload.get("id_slot", -1))
            state["slots"][str(slot)] = state["slots"].get(str(slot), 0) + 1
            state["slot_log"].setdefault(str(slot), []).append(ids[0])
            choice.update(text=model.texts[sampled], logprobs={"content": [{
                "id": sampled, "token": model.texts[sampled], "logprob": model.logprob(sampled),
                "top_logprobs": [{"id": 0, "token": TOP, "logprob": -0.25}]}]})
        return web.json_response({"object": "text_completion", "model": payload.get("model"), "choices": [choice],
                                  "usage": {"prompt_tokens": len(ids), "completion_tokens": 1}})

    app.add_routes([web.post("/v1/completions", completions)])
    if mode in ("vllm", "llama"):
        app.add_routes([web.post("/tokenize", tokenize)])
    if mode == "llama":
        app.add_routes([web.get("/props", props)])
