"""A one-shot Harbor agent: it asks its model once, through the OpenAI chat API at `api_base`, for a shell
command that does the task, and runs the reply in the task's container. Not a published agent: the smoke
examples pin it (their offline image has no tmux for Terminus-2) and the tests script it; it needs nothing in
the container but `sh`. Imported by Harbor from this directory (`nemoeval_oneshot:OneShotAgent`)."""

from __future__ import annotations

import os
import re

import httpx
from harbor.agents.base import BaseAgent

PROMPT = ("{instruction}\n\nReply with one POSIX shell command that does this, in a ```sh code block. The command "
          "runs once, in the task's working directory.")


class OneShotAgent(BaseAgent):
    def __init__(self, *args, api_base: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.api_base = api_base or os.environ["OPENAI_BASE_URL"]

    @staticmethod
    def name() -> str:
        return "nemoeval-oneshot"

    def version(self) -> str | None:
        return "1"

    async def setup(self, environment) -> None:
        return None

    async def _ask(self, instruction: str) -> dict:
        # async, so that Harbor's agent timeout cancels a request still waiting (a thread would outlive it and
        # keep the trial's process from ending)
        body = {"model": (self.model_name or "model").removeprefix("openai/"),
                "messages": [{"role": "user", "content": PROMPT.format(instruction=instruction.strip())}]}
        async with httpx.AsyncClient(timeout=None) as client:
            response = await client.post(self.api_base.rstrip("/") + "/chat/completions", json=body,
                                         headers={"Authorization": f"Bearer {os.environ['OPENAI_API_KEY']}"})
            response.raise_for_status()
            return response.json()

    async def run(self, instruction, environment, context) -> None:
        reply = await self._ask(instruction)
        content = reply["choices"][0]["message"].get("content") or ""
        block = re.search(r"```(?:sh|bash|shell)?\n(.*?)```", content, re.DOTALL)
        command = (block.group(1) if block else content).strip()
        usage = reply.get("usage") or {}
        context.n_input_tokens = usage.get("prompt_tokens")
        context.n_output_tokens = usage.get("completion_tokens")
        context.metadata = {"command": command}
        if command:
            await environment.exec(command, timeout_sec=120)
