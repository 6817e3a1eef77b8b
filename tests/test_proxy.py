"""The engine's OpenAI-compatible proxy (engine/proxy.py) on its own, with a scripted chat in place of the engine:
the item's key routes, an unknown key is refused, an identical request asked again is its next occurrence, a
streamed request gets one chunk, a failure reaches the agent as a status and the driver as traffic()."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from pytest_nemoeval.engine.proxy import routed, traffic
from pytest_nemoeval.errors import ContextOverflow, GenerationError


class ScriptedChat:
    model = "served-model"

    def __init__(self, fail: GenerationError | None = None) -> None:
        self.calls: list[tuple[list, dict[str, Any]]] = []
        self.fail = fail

    async def __call__(self, messages, **options):
        self.calls.append((messages, options))
        if self.fail:
            raise self.fail
        return {"content": f"reply {len(self.calls)}", "prompt_tokens": 7, "completion_tokens": 3}


async def _post(session: aiohttp.ClientSession, url: str, key: str, body: dict) -> tuple[int, Any]:
    async with session.post(f"{url}/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}) as r:
        text = await r.text()
        return r.status, (json.loads(text) if r.content_type == "application/json" else text)


def test_requests_route_by_key_with_their_settings_and_occurrences():
    async def scenario():
        chat = ScriptedChat()
        async with routed(chat) as (url, key), aiohttp.ClientSession() as session:
            body = {"model": "anything", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.3,
                    "max_tokens": 50}
            first = await _post(session, url, key, body)
            again = await _post(session, url, key, body)
            refused = await _post(session, url, "nemoeval-not-a-key", body)
            bad = await _post(session, url, key, {"prompt": "no messages"})
            streamed = await _post(session, url, key, body | {"stream": True})
            assert traffic(key) == (3, None)
        return chat, first, again, refused, bad, streamed

    chat, first, again, refused, bad, streamed = asyncio.run(scenario())
    assert first[0] == 200 and first[1]["choices"][0]["message"]["content"] == "reply 1"
    assert first[1]["model"] == "served-model" and first[1]["usage"]["total_tokens"] == 10
    assert again[1]["choices"][0]["message"]["content"] == "reply 2"
    # the agent's settings are sent; the model it names is not (the engine sends the served one)
    assert chat.calls[0][1] == {"lane": "model", "occurrence": 0, "temperature": 0.3, "max_tokens": 50}
    assert chat.calls[1][1]["occurrence"] == 1  # asked again: cached apart, replayed in order on a rerun
    assert refused[0] == 401 and bad[0] == 400
    assert streamed[0] == 200 and streamed[1].startswith("data: ") and streamed[1].rstrip().endswith("[DONE]")
    chunk = json.loads(streamed[1].split("\n\n")[0].removeprefix("data: "))
    assert chunk["choices"][0]["delta"]["content"] == "reply 3"


def test_a_failed_request_is_a_status_for_the_agent_and_a_failure_for_the_driver():
    async def scenario(failure: GenerationError):
        async with routed(ScriptedChat(fail=failure)) as (url, key), aiohttp.ClientSession() as session:
            status, body = await _post(session, url, key, {"messages": [{"role": "user", "content": "hi"}]})
            return status, body, traffic(key)

    status, body, (sent, failure) = asyncio.run(scenario(GenerationError("HTTP 500 after 10 retries")))
    assert status == 502 and "HTTP 500 after 10 retries" in body["error"]["message"]
    assert (sent, failure) == (1, "HTTP 500 after 10 retries")
    status, body, (_, failure) = asyncio.run(scenario(ContextOverflow("context overflow: 9000 tokens > 8192")))
    assert status == 400 and body["error"]["code"] == "context_length_exceeded"
    assert failure is None  # a full context ends the agent's conversation; the trial is still graded
