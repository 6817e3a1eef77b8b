"""The tool loop: model -> tool calls run -> tool messages -> model ..., until a reply without tool calls.

As NeMo Skills' ToolCallingWrapper.generate_async (NVIDIA/NeMo-Skills 0b012df8,
nemo_skills/inference/model/tool_call.py, with mcp/adapters.py for the messages): every request offers the
tools; the assistant message goes back into the conversation as the server returned it (reasoning_content
included); each tool call gets a message {"role": "tool", "name", "tool_call_id", "content"}; arguments that
are not JSON give the content '{"error": "Tool argument parsing failed."}', a call that raises (unknown tool,
bad arguments) '{"error": "Tool execution failed."}'; the answer is the concatenation of every reply's
content. The reference has no call budget (the published task sets no token budget either): here
`max_tool_calls` (generation setting, default MAX_TOOL_CALLS) stops a conversation whose next calls would
exceed it, and the answer is then what the replies said so far, as the reference's token budget does.
"""

from __future__ import annotations

import json
import time
from typing import Any, Awaitable, Callable, Sequence

from pytest_nemoeval.sandbox import SandboxError
from pytest_nemoeval.tools.python_tool import TOOL_KINDS, PythonTool, ToolResult

MAX_TOOL_CALLS = 100
PARSE_FAILED = json.dumps({"error": "Tool argument parsing failed."})
EXECUTION_FAILED = json.dumps({"error": "Tool execution failed."})

Send = Callable[..., Awaitable[dict[str, Any]]]


def tools_from(configs: Sequence[dict[str, Any]]) -> list[PythonTool]:
    """The tools of a plan row (each tool's config())."""
    tools = []
    for config in configs:
        settings = {key: value for key, value in config.items() if key != "kind"}
        tools.append(TOOL_KINDS[config["kind"]](**settings))
    return tools


async def tool_loop(send: Send, messages: list[dict[str, Any]], tools: Sequence[PythonTool],
                    max_tool_calls: int | None = None, **options: Any) -> dict[str, Any]:
    """Run the conversation; the response body: the joined answer as `content`/`reasoning_content`, the last
    reply's finish_reason, summed tokens and latency, and `tool_use` with every call (its code, output, status
    and wall time)."""
    budget = MAX_TOOL_CALLS if max_tool_calls is None else int(max_tool_calls)
    by_name = {tool.name: tool for tool in tools}
    sessions = {tool.name: tool.session() for tool in tools}  # one per conversation, as requests_to_sessions
    conversation = list(messages)
    replies: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    stopped = "answer"
    while True:
        reply = await send(conversation, tools=[tool.spec() for tool in tools], **options)
        replies.append(reply)
        requested = reply.get("tool_calls") or []
        conversation.append(assistant_message(reply))
        if not requested:
            break
        if len(calls) + len(requested) > budget:
            stopped = "budget"
            break
        for call in requested:  # the reference gathers a reply's calls at once on one session; here in order
            record = await _run_call(call, by_name, sessions)
            calls.append(record)
            conversation.append(tool_message(call, record["output"]))
    return {
        "content": "".join(reply.get("content") or "" for reply in replies),
        "reasoning_content": "\n".join(r["reasoning_content"] for r in replies if r.get("reasoning_content")) or None,
        "finish_reason": replies[-1].get("finish_reason"),
        "completion_tokens": _total(replies, "completion_tokens"),
        "prompt_tokens": replies[-1].get("prompt_tokens"),
        "latency": _total(replies, "latency"),
        "tool_use": {"calls": calls, "replies": len(replies), "stopped": stopped},
    }


def assistant_message(reply: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.get("content")}
    if reply.get("tool_calls"):
        message["tool_calls"] = reply["tool_calls"]
    if reply.get("reasoning_content"):
        message["reasoning_content"] = reply["reasoning_content"]
    return message


def tool_message(call: dict[str, Any], output: str) -> dict[str, Any]:
    """adapters.py format_tool_response_by_endpoint_type (chat)."""
    function = call.get("function") or {}
    return {"role": "tool", "name": function.get("name"), "tool_call_id": call.get("id"), "content": output}


async def _run_call(call: dict[str, Any], by_name: dict[str, PythonTool], sessions: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    name, raw = function.get("name"), function.get("arguments")
    started = time.monotonic()
    arguments: Any = None
    try:
        arguments = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        result = ToolResult(PARSE_FAILED, "failed")
    else:
        tool = by_name.get(name) if isinstance(name, str) else None
        try:
            if tool is None or not isinstance(arguments, dict):
                raise TypeError(f"no tool {name!r} taking these arguments")
            result = await tool.run(arguments, sessions[tool.name])
        except SandboxError:
            raise  # the run refuses to execute model code (--sandbox-strict): the item fails with its reason
        except Exception as exc:  # as the reference: the model is told, the record keeps why
            result = ToolResult(EXECUTION_FAILED, "failed", f"{type(exc).__name__}: {exc}")
    code = arguments.get("code") if isinstance(arguments, dict) else None
    record = {"id": call.get("id"), "name": name, "arguments": raw, "code": code, "output": result.output,
              "status": result.status, "wall_seconds": round(time.monotonic() - started, 4)}
    if result.reason:
        record["reason"] = result.reason
    return record


def _total(replies: list[dict[str, Any]], key: str) -> Any:
    values = [reply.get(key) for reply in replies]
    return None if any(value is None for value in values) else round(sum(values), 4)
