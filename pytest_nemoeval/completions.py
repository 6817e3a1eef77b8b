"""The completions lane: what a served model offers besides chat, found out once before anything is sent.

Base-model suites (Suite.harness) send raw prompts to /v1/completions; their log-likelihood items need the
log-probability of given tokens. Two server paths give it (see engine/loglikelihood.py):

- "echo": /v1/completions with the prompt as token ids, `echo` and `logprobs` returns every prompt token's
  log-prob (vLLM; lm-evaluation-harness's `local-completions` path);
- "teacher_forcing": the server ignores `echo` but honours `logit_bias` and reports the raw log-prob of the
  token it was forced to sample (llama.cpp): one request per continuation token, all of one item on one slot.

`probe()` asks the server (a 1-token completion, a tokenization, an echo and a forced token) and says which,
or why neither works, in one line.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

PROBE_TEXT = "The capital of France is Paris"


class CapabilityError(Exception):
    """The endpoint cannot serve what a selected suite needs (the message is the one line to show)."""


def server_root(base_url: str) -> str:
    """Where /tokenize and /props live: the server root, not /v1."""
    return base_url.removesuffix("/v1")


def tokenize_payload(server: str, model: str, text: str) -> dict[str, Any]:
    """A /tokenize request without special tokens (lm-evaluation-harness encodes with add_special_tokens=False)."""
    if server == "llama.cpp":
        return {"content": text, "add_special": False}
    return {"model": model, "prompt": text, "add_special_tokens": False}


def probe(base_url: str, model: str, api_key: str | None, loglikelihood: bool, suites: str,
          option: str = "--endpoint") -> dict[str, Any]:
    """{"api": "completions", "server": ..., "method": ..., "slots": ...}, or CapabilityError with one line."""
    post = _Poster(base_url, api_key)
    status, body = post("/completions", {"model": model, "prompt": "Hello", "max_tokens": 1, "temperature": 0})
    if status in (404, 405) or (status == 400 and "completions" in _message(body).lower()):
        raise CapabilityError(f"{suites} send raw prompts to {base_url}/completions, which this endpoint does not "
                              f"serve (HTTP {status}: a chat-only API?): give {option} a server with the completions "
                              "API (vLLM, llama.cpp)")
    if status != 200:
        raise CapabilityError(f"{option} {base_url}: a 1-token completion for {suites} failed with HTTP {status}: "
                              f"{_message(body)}")
    found: dict[str, Any] = {"api": "completions"}
    if not loglikelihood:
        return found
    status, props = post("/props", None, root=True)
    server = "llama.cpp" if status == 200 and isinstance(props, dict) and "total_slots" in props else "vllm"
    status, tokens = post("/tokenize", tokenize_payload(server, model, PROBE_TEXT), root=True)
    ids = tokens.get("tokens") if status == 200 and isinstance(tokens, dict) else None
    if not ids or not all(isinstance(token, int) for token in ids):
        raise CapabilityError(f"{suites} score log-likelihoods on token ids and {server_root(base_url)}/tokenize did "
                              f"not tokenize (HTTP {status}): serve the model with vLLM or llama.cpp")
    found.update(server=server)
    if _echoes(post, model, ids):
        return {**found, "method": "echo"}
    if _forces(post, model, ids):
        return {**found, "method": "teacher_forcing", "slots": int(props.get("total_slots") or 1)}
    raise CapabilityError(f"{option} {base_url} cannot score log-likelihoods for {suites}: it neither echoes the "
                          "prompt's log-probs (`echo`, as vLLM) nor reports the log-prob of a token forced by "
                          "`logit_bias` (as llama.cpp)")


def _echoes(post: "_Poster", model: str, ids: list[int]) -> bool:
    status, body = post("/completions", {"model": model, "prompt": ids, "max_tokens": 1, "temperature": 0,
                                         "logprobs": 1, "echo": True})
    try:
        logprobs = body["choices"][0]["logprobs"]["token_logprobs"]
    except (KeyError, IndexError, TypeError):
        return False
    return status == 200 and isinstance(logprobs, list) and len(logprobs) >= len(ids)


def _forces(post: "_Poster", model: str, ids: list[int]) -> bool:
    forced = ids[1]  # not what follows the full prompt, so only the bias can make it the sampled token
    status, body = post("/completions", {"model": model, "prompt": ids, "max_tokens": 1, "temperature": 0,
                                         "logprobs": 1, "logit_bias": {str(forced): 100}})
    try:
        token = body["choices"][0]["logprobs"]["content"][0]
        return status == 200 and token["id"] == forced and isinstance(token["logprob"], float) and token["top_logprobs"]
    except (KeyError, IndexError, TypeError):
        return False


class _Poster:
    def __init__(self, base_url: str, api_key: str | None) -> None:
        self.base_url = base_url
        self.headers = {"Content-Type": "application/json"}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"

    def __call__(self, path: str, payload: dict[str, Any] | None, root: bool = False) -> tuple[int, Any]:
        url = (server_root(self.base_url) if root else self.base_url) + path
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(url, data=data, headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            raise CapabilityError(f"{self.base_url} is not reachable: {getattr(exc, 'reason', exc)}") from None
        try:
            return status, json.loads(raw or b"null")
        except ValueError:
            return status, raw.decode("utf-8", "replace")


def _message(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error", body)
        body = error.get("message", error) if isinstance(error, dict) else error
    return " ".join(str(body).split())[:200]
