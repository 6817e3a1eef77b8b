"""A Harbor agent for the tests that calls its model from inside the task's container, as OpenHands does:
busybox's wget posts the chat request to `api_base` and the reply's command runs there too. Imported by Harbor
from this directory (NEMOEVAL_AGENT_PATH)."""

from __future__ import annotations

import json
import os
import shlex

from harbor.agents.base import BaseAgent


class InContainerAgent(BaseAgent):
    def __init__(self, *args, api_base: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.api_base = api_base

    @staticmethod
    def name() -> str:
        return "nemoeval-in-container"

    def version(self) -> str | None:
        return "1"

    async def setup(self, environment) -> None:
        return None

    async def run(self, instruction, environment, context) -> None:
        body = json.dumps({"model": "model", "messages": [{"role": "user", "content": instruction}]})
        asked = await environment.exec(
            f"wget -q -O - --header {shlex.quote('Authorization: Bearer ' + os.environ['OPENAI_API_KEY'])} "
            f"--header 'Content-Type: application/json' --post-data {shlex.quote(body)} "
            f"{self.api_base}/chat/completions", timeout_sec=120)
        if asked.return_code != 0:
            raise RuntimeError(f"the agent could not reach its model from the container: {asked.stderr}")
        content = json.loads(asked.stdout)["choices"][0]["message"]["content"]
        await environment.exec(content.strip().removeprefix("```sh").removesuffix("```").strip(), timeout_sec=60)
