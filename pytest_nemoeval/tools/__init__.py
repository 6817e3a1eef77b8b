"""Tools a model may call while it answers (Suite(tools=...)): NeMo Skills' Python tool, run in the sandbox."""

from pytest_nemoeval.tools.loop import MAX_TOOL_CALLS, tool_loop, tools_from
from pytest_nemoeval.tools.python_tool import PythonTool

__all__ = ["MAX_TOOL_CALLS", "PythonTool", "tool_loop", "tools_from"]
