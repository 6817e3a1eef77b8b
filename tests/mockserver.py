"""A scripted OpenAI-compatible server for what a real server cannot do on demand: faults and speed.

    python tests/mockserver.py --port 0 [--latency S] [--answer TEXT] [--fault KIND:COUNT ...]

Prints `PORT <n>` when listening. The first requests get the faults in order (`429:2` = two 429s with
Retry-After: 1), then every request is answered. KIND: 429, 500, 400, context (400: prompt too long), 401, timeout (sleeps 30 s),
reset (drops the connection), garbage (invalid JSON), empty (no choices), stall (a streamed reply stops after its
first chunk for 30 s), cut (a streamed reply's second chunk is vLLM's error chunk, and the stream ends).
`stream: true` is answered with server-sent chunks as vLLM sends them (a word of the text per chunk, with `stream_options.include_usage` a last chunk of usage, then `[DONE]`), `--chunk-latency S` apart;
`--no-stream` answers it with llama.cpp-style HTTP 400 instead (a server that cannot stream). GET /stats counts
"stream_requests".
`--fail-prompt TEXT` (repeatable): every request whose last user message contains TEXT gets a 500 naming TEXT.
`--answer` is the reply text, fixed so that expected scores can be computed by hand; `{seed}` in it
is replaced by the request's seed, `{turn}` by the number of user messages, `{model}` by the model asked for,
`{system}` by the system message (what a driver put in the prompt), `{tool}` by the last tool result,
`{prompt}` by the last user message.
`--search-snippet TEXT` also serves SerpAPI's GET /search (the one result's snippet is TEXT); with
`--search-key KEY` a request with another api_key gets SerpAPI's 401.
`--answers FILE` scripts replies by prompt: a JSON list of [substring, text]; the first rule whose substring is
in the last user message gives the reply text (for drivers sending several prompts), else `--answer`; or a JSON
object of such lists by the request's seed ("*": any other seed), to script each repeat (a fixed seed + repeat).
`--tool-call NAME=JSON` (repeatable) answers a request that offers `tools` with these tool calls, unless its
last message is a tool result (then the reply text): one step of calls per user turn.
`--tool-steps FILE` scripts a tool conversation: a JSON list of steps, the step taken being the number of
tool-calling replies after the last user message (the last step repeats); a step is
{"calls": [[NAME, ARGUMENTS], ...]} (ARGUMENTS a JSON string, as sent) or {"content": TEXT, "reasoning": TEXT};
or a JSON object of such lists by the request's seed ("*": any other seed), to script each trial of a harness.
`--lm vllm|llama|plain` adds the completions API of a toy model with hand-computable log-probs (lmserver.py).
`--context N` serves a model with a context window of N tokens, as vLLM reports it (`max_model_len` in
/v1/models, /tokenize of messages) or with `--context-server llama` as llama.cpp does (/props n_ctx,
/apply-template, /tokenize of content); a token is a run of non-space characters (lmserver.py), a message adds
2; a chat request beyond the window gets that server's HTTP 400. GET /stats counts "tokenize_requests".
GET /stats returns {"chat_requests": n, "search_requests": m, "models": {model named: chat requests}, ...}. `--die-after N` exits at request N+1 (a dead endpoint).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from pathlib import Path

from aiohttp import web


def build_app(latency: float, answer: str, faults: list[tuple[str, int]], require_key: str | None,
              die_after: int | None = None, answers: list[list[str]] | dict[str, list[list[str]]] | None = None,
              tool_calls: list[tuple[str, str]] | None = None, search_snippet: str | None = None,
              search_key: str | None = None, fail_prompts: list[str] | None = None, lm: str | None = None,
              lm_faults_after: int = 0, tool_steps: list[dict] | dict[str, list[dict]] | None = None,
              served: tuple[str, ...] = ("mock-model",), context: int | None = None,
              context_server: str = "vllm", chunk_latency: float = 0.0, no_stream: bool = False) -> web.Application:
    state = {"chat_requests": 0, "search_requests": 0, "models": {}, "tokenize_requests": 0, "stream_requests": 0,
             "faults": [kind for kind, count in faults for _ in range(count)]}

    async def models(request: web.Request) -> web.Response:
        if require_key and request.headers.get("Authorization") != f"Bearer {require_key}":
            return web.json_response({"error": {"message": "invalid api key"}}, status=401)
        window = {"max_model_len": context} if context and context_server == "vllm" else {}
        return web.json_response({"object": "list", "data": [{"id": name, "object": "model", **window}
                                                             for name in served]})

    def rendered(messages: list[dict]) -> str:
        return "".join(f"<{message.get('role')}> {message.get('content') or ''} </s> " for message in messages)

    def tokens(text: str) -> list[int]:
        return [len(piece) for piece in re.findall(r"\s*\S+", text)]

    async def tokenize(request: web.Request) -> web.Response:
        state["tokenize_requests"] += 1
        payload = await request.json()
        if context_server == "llama":
            return web.json_response({"tokens": tokens(str(payload["content"]))})
        ids = tokens(rendered(payload["messages"]) if "messages" in payload else str(payload["prompt"]))
        return web.json_response({"count": len(ids), "tokens": ids, "max_model_len": context})

    async def apply_template(request: web.Request) -> web.Response:
        return web.json_response({"prompt": rendered((await request.json())["messages"])})

    async def props(request: web.Request) -> web.Response:
        return web.json_response({"total_slots": 2, "default_generation_settings": {"n_ctx": context}})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({key: value for key, value in state.items() if key != "faults"})

    async def search(request: web.Request) -> web.Response:
        state["search_requests"] += 1
        if search_key and request.query.get("api_key") != search_key:
            return web.json_response({"error": "Invalid API key."}, status=401)
        return web.json_response({"organic_results": [
            {"title": "Result", "link": f"http://{request.host}/page", "snippet": search_snippet}]})

    async def chat(request: web.Request) -> web.StreamResponse:
        state["chat_requests"] += 1
        if die_after is not None and state["chat_requests"] > die_after:
            os._exit(0)  # the endpoint dies: later connections are refused
        payload = await request.json()
        state["models"][str(payload.get("model"))] = state["models"].get(str(payload.get("model")), 0) + 1
        users = [message.get("content") or "" for message in payload.get("messages") or [] if message.get("role") == "user"]
        failing = next((text for text in fail_prompts or [] if users and text in str(users[-1])), None)
        if failing is not None:
            return web.json_response({"error": {"message": f"internal error for the prompt with {failing!r}"}},
                                     status=500)
        fault = state["faults"].pop(0) if state["faults"] else None
        if payload.get("stream"):
            state["stream_requests"] += 1
            if no_stream:
                return web.json_response({"error": {"message": "streaming is not supported"}}, status=400)
        if context and len(tokens(rendered(payload.get("messages") or []))) + int(payload.get("max_tokens") or 1) > context:
            words = ("the request exceeds the available context size, try increasing it" if context_server == "llama"
                     else f"This model's maximum context length is {context} tokens.")
            return web.json_response({"error": {"message": words}}, status=400)
        if fault == "429":
            return web.json_response({"error": {"message": "rate limited"}}, status=429, headers={"Retry-After": "1"})
        if fault == "500":
            return web.json_response({"error": {"message": "internal error"}}, status=500)
        if fault == "toolparse":  # llama.cpp's server when the model wrote a tool call that is not JSON
            return web.json_response({"error": {"code": 500, "message": "Failed to parse tool call arguments as JSON: "
                                                "[json.exception.parse_error.101] parse error at line 2, column 9: "
                                                "syntax error while parsing value - invalid string: missing closing "
                                                "quote; last read: '\"print(1'", "type": "server_error"}},
                                     status=500)
        if fault == "400":
            return web.json_response({"error": {"message": "max_tokens is too large for this model"}}, status=400)
        if fault == "context":  # vLLM's words for a prompt longer than the context
            return web.json_response({"error": {"message": "This model's maximum context length is 4096 tokens. "
                                                           "However, you requested 5000 tokens."}}, status=400)
        if fault == "401" or (require_key and request.headers.get("Authorization") != f"Bearer {require_key}"):
            sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
            return web.json_response({"error": {"message": f"Incorrect API key provided: {sent}"}}, status=401)
        if fault == "timeout":
            await asyncio.sleep(30)
        if fault == "reset":
            assert request.transport is not None
            request.transport.abort()
            return web.Response()
        if fault == "garbage":
            return web.Response(text="{not json", content_type="application/json")
        if fault == "empty":
            return web.json_response({"choices": []})
        if latency:
            await asyncio.sleep(latency)
        turns = len(users)
        rules = answers.get(str(payload.get("seed")), answers.get("*", [])) if isinstance(answers, dict) else answers
        reply = next((text for substring, text in rules or [] if users and substring in users[-1]), answer)
        system = next((message.get("content") or "" for message in payload.get("messages") or []
                       if message.get("role") == "system"), "")
        tool = next((message.get("content") or "" for message in reversed(payload.get("messages") or [])
                     if message.get("role") == "tool"), "")
        content = (reply.replace("{seed}", str(payload.get("seed"))).replace("{turn}", str(turns))
                   .replace("{model}", str(payload.get("model"))).replace("{system}", system)
                   .replace("{tool}", tool).replace("{prompt}", str(users[-1]) if users else "")
                   .replace("{max_tokens}", str(payload.get("max_tokens"))))
        message: dict = {"role": "assistant", "content": content}
        messages = payload.get("messages") or [{}]
        if tool_steps:
            steps = tool_steps if isinstance(tool_steps, list) else tool_steps.get(str(payload.get("seed")),
                                                                                   tool_steps.get("*"))
            message = tool_step(steps, messages, state["chat_requests"],
                                lambda text: text.replace("{tool}", tool).replace("{seed}", str(payload.get("seed"))))
        if tool_calls and payload.get("tools") and messages[-1].get("role") != "tool":
            message = {"role": "assistant", "content": None, "tool_calls": [
                {"id": f"call_{state['chat_requests']}_{i}", "type": "function",
                 "function": {"name": name, "arguments": arguments}} for i, (name, arguments) in enumerate(tool_calls)]}
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        if payload.get("stream"):
            return await stream(request, payload, message, finish, usage, fault)
        return web.json_response({
            "object": "chat.completion", "model": payload.get("model"),
            "choices": [{"index": 0, "finish_reason": finish, "message": message}], "usage": usage})

    async def stream(request: web.Request, payload: dict, message: dict, finish: str, usage: dict,
                     fault: str | None) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for number, delta in enumerate([{"role": "assistant", "content": ""}, *deltas(message)]):
            chunk = {"object": "chat.completion.chunk", "model": payload.get("model"),
                     "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            if fault == "stall" and number == 1:
                await asyncio.sleep(30)
            if fault == "cut" and number == 1:
                error = {"error": {"object": "error", "message": "the engine died", "type": "InternalServerError"}}
                await response.write(f"data: {json.dumps(error)}\n\ndata: [DONE]\n\n".encode())
                return response
            if chunk_latency:
                await asyncio.sleep(chunk_latency)
        last = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
        await response.write(f"data: {json.dumps(last)}\n\n".encode())
        if (payload.get("stream_options") or {}).get("include_usage"):
            await response.write(f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        return response

    app = web.Application()
    app.add_routes([web.get("/v1/models", models), web.get("/health", health), web.get("/stats", stats),
                    web.post("/v1/chat/completions", chat)])
    if search_snippet is not None:
        app.add_routes([web.get("/search", search)])
    if context:
        app.add_routes([web.post("/tokenize", tokenize)])
        if context_server == "llama":
            app.add_routes([web.get("/props", props), web.post("/apply-template", apply_template)])
    if lm is not None:
        from lmserver import add_routes

        add_routes(app, lm, state, answer, lm_faults_after)
    return app


def deltas(message: dict) -> list[dict]:
    """A whole reply as the deltas of its stream: a word of reasoning or content each (vLLM's field names)."""
    return [{field: word} for source, field in (("reasoning_content", "reasoning"), ("content", "content"))
            for word in re.findall(r"\s*\S+\s*", message.get(source) or "")]


def tool_step(steps: list[dict], messages: list[dict], request: int, fill) -> dict:
    """The scripted reply of --tool-steps to this conversation (see the module docstring)."""
    last_user = max((i for i, message in enumerate(messages) if message.get("role") == "user"), default=-1)
    done = sum(1 for message in messages[last_user + 1:]
               if message.get("role") == "assistant" and message.get("tool_calls"))
    step = steps[min(done, len(steps) - 1)]
    if "calls" in step:
        return {"role": "assistant", "content": fill(step.get("content", "")) or None, "tool_calls": [
            {"id": f"call_{request}_{i}", "type": "function", "function": {"name": name, "arguments": arguments}}
            for i, (name, arguments) in enumerate(step["calls"])]}
    message = {"role": "assistant", "content": fill(step["content"])}
    if step.get("reasoning"):
        message["reasoning_content"] = fill(step["reasoning"])
    return message


def parse_fault(text: str) -> tuple[str, int]:
    kind, _, count = text.partition(":")
    return kind, int(count or 1)


async def serve(args: argparse.Namespace) -> None:
    answers = json.loads(Path(args.answers).read_text()) if args.answers else None
    steps = json.loads(Path(args.tool_steps).read_text()) if args.tool_steps else None
    app = build_app(args.latency, args.answer, [parse_fault(f) for f in args.fault], args.require_key,
                    args.die_after, answers, [tuple(call.split("=", 1)) for call in args.tool_call],
                    args.search_snippet, args.search_key, args.fail_prompt, args.lm, args.lm_faults_after, steps,
                    tuple(args.models.split(",")), args.context, args.context_server, args.chunk_latency,
                    args.no_stream)
    runner = web.AppRunner(app, access_log=None, handle_signals=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port, backlog=4096)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"PORT {port}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--answer", default="The answer is B.\nAnswer: \\boxed{B}")
    parser.add_argument("--answers", default=None, help="JSON file: [[substring of the last user message, reply], ...]")
    parser.add_argument("--fault", action="append", default=[])
    parser.add_argument("--fail-prompt", action="append", default=[], help="a 500 for every prompt containing it")
    parser.add_argument("--require-key", default=None)
    parser.add_argument("--tool-call", action="append", default=[], help="NAME=JSON arguments (repeatable)")
    parser.add_argument("--tool-steps", default=None, help="JSON file: a scripted tool conversation (see above)")
    parser.add_argument("--search-snippet", default=None, help="serve SerpAPI's /search with this snippet")
    parser.add_argument("--search-key", default=None, help="the api_key /search accepts")
    parser.add_argument("--lm", choices=("vllm", "llama", "plain"), default=None,
                        help="serve /v1/completions with a toy model, as vLLM or llama.cpp do (see lmserver.py)")
    parser.add_argument("--lm-faults-after", type=int, default=0, help="--lm: faults start after N completions")
    parser.add_argument("--models", default="mock-model", help="the model ids /v1/models lists, comma-separated")
    parser.add_argument("--context", type=int, default=None, help="the served context window, in tokens")
    parser.add_argument("--context-server", choices=("vllm", "llama"), default="vllm",
                        help="--context: report and count it as vLLM or as llama.cpp does")
    parser.add_argument("--chunk-latency", type=float, default=0.0, help="seconds between two streamed chunks")
    parser.add_argument("--no-stream", action="store_true", help="answer `stream: true` with HTTP 400")
    parser.add_argument("--die-after", type=int, default=None, help="exit after answering N chat requests")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
