"""The Python tool of NeMo Skills' tool-calling evaluations, run in this package's sandbox.

The reference is `++tool_modules=[nemo_skills.mcp.servers.python_tool::PythonTool]` of the published tools
configuration, in NVIDIA/NeMo-Skills 0b012df8 (unchanged there since 8b18f399):
- mcp/servers/python_tool.py: the MCP tool `stateful_python_code_exec` and its description; the model sees only
  `code` (hide_args hides session_id and timeout); exec_timeout_s 10; the result is stdout + stderr without one
  trailing newline; one sandbox session per conversation (requests_to_sessions[request_id]).
- code_execution/sandbox.py execute_code: language ipython, max_output_characters 1000, traceback Plain; only
  cells that completed are kept, and a session the sandbox lost is restored by replaying them.
- code_execution/local_sandbox/local_sandbox_server.py: postprocess_output of each stream, each stream cut at
  1000 characters followed by "<output cut>", "Execution timed out after {timeout} seconds", "connection closed".
Here every call is a fresh sandbox run that replays the conversation's completed cells (output discarded)
before the new one: the reference's restoration path, taken on every call (docs/fidelity.md).
"""

from __future__ import annotations

import json
import re
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pytest_nemoeval.sandbox import Limits, run_python

NAME = "stateful_python_code_exec"
DESCRIPTION = ("Call this function to execute Python code in a stateful Jupyter notebook environment. "
               "Python will respond with the output of the execution or time out after 120.0 seconds.")
# FastMCP's schema of the tool's arguments (mcp 1.x func_metadata: "<function>Arguments", each field's title)
# with session_id and timeout removed as MCPClientTool's hide_args removes them
PARAMETERS = {"properties": {"code": {"description": "Code to execute", "title": "Code", "type": "string"}},
              "required": ["code"], "title": "stateful_python_code_execArguments", "type": "object"}
CUT = "<output cut>"
GRACE_SECONDS = 0.5  # the sandbox server's SIGINT grace before it kills the shell
START_SECONDS = 2.0  # the sandbox run's own start-up, on top of the cells' time
RUNNER = Path(__file__).with_name("cell.py").read_text(encoding="utf-8")  # the program each call runs
CELL_FAILED, RESTORE_FAILED, TIMED_OUT = 97, 98, 99  # cell.py's exit statuses
_ANSI = re.compile(r"\x1B(?:[@-Z\-_]|\[[0-?]*[ -/]*[@-~])")
_OUT_PROMPT = re.compile(r"^Out\[\d+\]:\s*")


@dataclass
class PythonSession:
    """One conversation's session: the cells that completed, in order."""

    cells: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ToolResult:
    output: str  # the tool message's content
    status: str  # "completed", "error", "timeout", or "failed" (the call never ran: bad arguments, unknown tool)
    reason: str | None = None  # why a call failed (for the record; the model reads only `output`)


@dataclass(frozen=True)
class PythonTool:
    """`stateful_python_code_exec`: the reference's per-call timeout (exec_timeout_s; FastMCP makes it a float,
    hence "10.0 seconds" in its message) and output cap (max_output_characters)."""

    timeout: float = 10.0
    max_output_characters: int = 1000
    kind = "python"

    @property
    def name(self) -> str:
        return NAME

    def spec(self) -> dict[str, Any]:
        """The OpenAI `tools` entry (nemo_skills/mcp/adapters.py format_tool_list_by_endpoint_type, chat)."""
        return {"type": "function", "function": {"name": NAME, "description": DESCRIPTION, "parameters": PARAMETERS}}

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}

    def session(self) -> PythonSession:
        return PythonSession()

    async def run(self, arguments: dict[str, Any], session: PythonSession) -> ToolResult:
        """Run `arguments["code"]` in the session; a call without a string `code` fails as the reference's
        MCP argument validation makes it fail."""
        code = arguments.get("code")
        if not isinstance(code, str):
            raise TypeError("the argument 'code' must be a string")
        spec = {"history": session.cells, "code": code, "timeout": self.timeout, "grace": GRACE_SECONDS}
        wall = self.timeout * (len(session.cells) + 1) + GRACE_SECONDS + START_SECONDS
        result = await run_python(RUNNER, limits=Limits(wall_seconds=wall, cpu_seconds=int(wall) + 1),
                                  files={"session.json": json.dumps(spec).encode()})
        if result.status == "timeout" or result.returncode == -signal.SIGUSR1:  # not interruptible: the reference
            # kills and restarts the shell (cell.py's watchdog; the sandbox's limit when replaying takes too long)
            return ToolResult(self._joined("", f"Execution timed out after {self.timeout} seconds\n"), "timeout")
        if result.status == "ok":
            session.cells.append(code)
            status = "completed"
        elif result.returncode == RESTORE_FAILED:
            session.cells.clear()
            status = "error"
        elif result.returncode in (CELL_FAILED, TIMED_OUT):
            # interrupted at the timeout, IPython prints a KeyboardInterrupt traceback (the record says "timeout")
            status = "timeout" if result.returncode == TIMED_OUT else "error"
        else:  # the process died (a signal, os._exit): the reference's shell connection closes
            return ToolResult(self._joined("", "\nconnection closed\n"), "error")
        return ToolResult(self._joined(result.stdout, result.stderr), status)

    def _joined(self, stdout: str, stderr: str) -> str:
        output = self._cut(postprocess(stdout)) + self._cut(postprocess(stderr))
        return output[:-1] if output.endswith("\n") else output  # PythonTool.execute drops one trailing newline

    def _cut(self, text: str) -> str:
        if len(text) > self.max_output_characters:
            return text[:self.max_output_characters] + CUT
        return text


def postprocess(output: str) -> str:
    """local_sandbox_server.py postprocess_output (Plain): no ANSI codes, no `File <ipython-` lines, no `Out[n]:`
    prompts, no leading blank lines, one trailing newline."""
    lines = [_OUT_PROMPT.sub("", line) for line in _ANSI.sub("", output).split("\n")
             if not line.strip().startswith("File <ipython-")]
    while lines and lines[0] == "":
        lines.pop(0)
    text = "\n".join(lines).rstrip()
    return text + ("\n" if text else "")


TOOL_KINDS = {PythonTool.kind: PythonTool}
