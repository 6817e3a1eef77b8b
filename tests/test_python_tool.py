"""The Python tool and the tool loop against NeMo Skills' (NVIDIA/NeMo-Skills 0b012df8): the tool's spec, the
messages, the output as the model reads it, the session kept between the calls of one conversation."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
import yaml

from helpers import ROOT
from pytest_nemoeval.config import RunConfig
from pytest_nemoeval.suite import load_suite_module
from pytest_nemoeval.tools import PythonTool, tool_loop
from pytest_nemoeval.tools.loop import EXECUTION_FAILED, PARSE_FAILED, assistant_message, tool_message
from pytest_nemoeval.tools.python_tool import PythonSession, postprocess

QUICK = PythonTool(timeout=1.0)


def run(code: str, session: PythonSession, tool: PythonTool = QUICK):
    return asyncio.run(tool.run({"code": code}, session))


def test_spec_is_the_reference_tool_as_the_model_sees_it():
    # mcp/servers/python_tool.py: name and description; FastMCP's (mcp 1.x) schema of its arguments with
    # hide_args' session_id and timeout removed; adapters.py's chat format
    assert PythonTool().spec() == {"type": "function", "function": {
        "name": "stateful_python_code_exec",
        "description": "Call this function to execute Python code in a stateful Jupyter notebook environment. "
                       "Python will respond with the output of the execution or time out after 120.0 seconds.",
        "parameters": {"properties": {"code": {"description": "Code to execute", "title": "Code", "type": "string"}},
                       "required": ["code"], "title": "stateful_python_code_execArguments", "type": "object"}}}
    assert (PythonTool().timeout, PythonTool().max_output_characters) == (10.0, 1000)  # exec_timeout_s, execute_code


def test_messages_are_the_reference_messages():
    call = {"id": "call_7", "type": "function", "function": {"name": "stateful_python_code_exec", "arguments": "{}"}}
    assert tool_message(call, "42") == {"role": "tool", "name": "stateful_python_code_exec", "tool_call_id": "call_7",
                                        "content": "42"}
    assert (PARSE_FAILED, EXECUTION_FAILED) == ('{"error": "Tool argument parsing failed."}',
                                                '{"error": "Tool execution failed."}')
    reply = {"content": None, "tool_calls": [call], "reasoning_content": "think", "latency": 0.1}
    assert assistant_message(reply) == {"role": "assistant", "content": None, "tool_calls": [call],
                                        "reasoning_content": "think"}


# local_sandbox_server.py postprocess_output (Plain), the oracle
def reference_postprocess(output):
    output = re.compile(r"\x1B(?:[@-Z\-_]|\[[0-?]*[ -/]*[@-~])").sub("", output)
    lines = []
    for line in output.split("\n"):
        if line.strip().startswith("File <ipython-"):
            continue
        line = re.sub(r"^Out\[\d+\]:\s*", "", line)
        lines.append(line)
    while lines and lines[0] == "":
        lines.pop(0)
    output = "\n".join(lines).rstrip()
    return output + ("\n" if output else "")


@pytest.mark.parametrize("output", [
    "", "\n\n6\n", "Out[0]: 6\n",
    "a\nTraceback \x1b[36m(most recent call last)\x1b[39m:\n\x1b[36m  \x1b[39m\x1b[36mFile "
    "\x1b[39m\x1b[32m<ipython-input-1-b9936682e398>:2\x1b[39m\n\x1b[31m    \x1b[39m\x1b[31m1/0\x1b[39m\n\x1b[31m"
    "ZeroDivisionError\x1b[39m\x1b[31m:\x1b[39m division by zero\n\n", "  x  \n\n", "Out[12]:   [1, 2]\nOut: 3"])
def test_output_is_cleaned_as_the_reference_server_does(output):
    assert postprocess(output) == reference_postprocess(output)


# what IPython 9.18's TerminalInteractiveShell.run_cell printed (stdout, stderr) for each cell, traceback mode
# Plain, captured as local_sandbox_server.py's shell_worker captures it (redirect_stdout / redirect_stderr)
IPYTHON = {
    "x = 3\nx*2": ("Out[0]: 6\n", ""),
    "[1,2]\n'abc'": ("Out[0]: 'abc'\n", ""),
    "import sys; print('e', file=sys.stderr); None": ("", "e\n"),
    "print('a')\n1/0": ("a\nTraceback \x1b[36m(most recent call last)\x1b[39m:\n\x1b[36m  \x1b[39m\x1b[36mFile "
                        "\x1b[39m\x1b[32m<ipython-input-1-b9936682e398>:2\x1b[39m\n\x1b[31m    \x1b[39m\x1b[31m1/0"
                        "\x1b[39m\n\x1b[31mZeroDivisionError\x1b[39m\x1b[31m:\x1b[39m division by zero\n\n", ""),
    "def f():\n    return g()\nf()": (
        "Traceback \x1b[36m(most recent call last)\x1b[39m:\n  File \x1b[92m<ipython-input-1-ffd583bfeba3>:3\x1b[39m"
        "\n    f()\n\x1b[36m  \x1b[39m\x1b[36mFile \x1b[39m\x1b[32m<ipython-input-1-ffd583bfeba3>:2\x1b[39m\x1b[36m in "
        "\x1b[39m\x1b[35mf\x1b[39m\n\x1b[31m    \x1b[39m\x1b[31mreturn g()\x1b[39m\n\x1b[31mNameError\x1b[39m"
        "\x1b[31m:\x1b[39m name 'g' is not defined\n\n", ""),
    "y = ": ("  \x1b[36mFile \x1b[39m\x1b[32m<ipython-input-1-3042731917eb>:1\x1b[39m\n\x1b[31m    \x1b[39m\x1b[31my ="
             "\x1b[39m\n        ^\n\x1b[31mSyntaxError\x1b[39m\x1b[31m:\x1b[39m invalid syntax\n\n", ""),
}


@pytest.mark.parametrize("code", IPYTHON)
def test_the_model_reads_what_the_reference_ipython_sandbox_gives(code):
    stdout, stderr = IPYTHON[code]
    expected = reference_postprocess(stdout) + reference_postprocess(stderr)
    assert run(code, PythonSession()).output == expected.removesuffix("\n")  # PythonTool.execute's last step


def test_a_session_keeps_what_completed_cells_defined():
    session = PythonSession()
    first, second = run("x = 3\nx * 2", session), run("print(x + 1)\nx", session)
    assert (first.output, first.status) == ("6", "completed")  # the last expression's value, as IPython shows it
    assert (second.output, second.status) == ("4\n3", "completed")
    assert run("y = 1;", session).output == ""  # a trailing ";" shows nothing
    failed = run("z = 5\n1 / 0", session)  # a cell that fails is not replayed: z stays undefined
    assert (failed.output, failed.status) == ("Traceback (most recent call last):\n    1 / 0\n"
                                              "ZeroDivisionError: division by zero", "error")
    assert run("z", session).output.endswith("NameError: name 'z' is not defined")
    assert session.cells == ["x = 3\nx * 2", "print(x + 1)\nx", "y = 1;"]
    assert run("x", PythonSession()).status == "error"  # another conversation starts empty


def test_output_is_stdout_then_stderr_each_cut_at_1000_characters():
    session = PythonSession()
    mixed = run("import sys\nprint('err', file=sys.stderr)\nprint('out')", session, PythonTool())
    assert mixed.output == "out\nerr"  # one trailing newline dropped
    long = run("import sys\nprint('o' * 1500)\nprint('e' * 1001, file=sys.stderr)", session, PythonTool())
    assert long.output == "o" * 1000 + "<output cut>" + "e" * 1000 + "<output cut>"
    # the cut counts the stream's newline: 999 characters and it fit, 1000 and it is cut
    assert run("print('s' * 999)", session, PythonTool()).output == "s" * 999
    assert run("print('s' * 1000)", session, PythonTool()).output == "s" * 1000 + "<output cut>"
    assert run("'y' * 20", session, PythonTool(max_output_characters=10)).output == "'yyyyyyyyy<output cut>"


def test_syntax_errors_and_failed_calls_are_told_to_the_model():
    assert run("y = ", PythonSession()).output == "    y =\n        ^\nSyntaxError: invalid syntax"
    with pytest.raises(TypeError):
        run(None, PythonSession())  # type: ignore[arg-type]


def test_a_cell_past_the_timeout_is_interrupted_and_one_that_ignores_it_is_killed():
    session = PythonSession()
    interrupted = run("import time\ntime.sleep(30)", session)
    assert (interrupted.output, interrupted.status) == (
        "Traceback (most recent call last):\n    time.sleep(30)\nKeyboardInterrupt", "timeout")
    killed = run("x = 1\nsum(range(10 ** 12))", session)  # C code never sees the interrupt
    assert (killed.output, killed.status) == ("Execution timed out after 1.0 seconds", "timeout")
    assert session.cells == [] and run("'still works'", session).output == "'still works'"


def test_a_session_whose_replay_fails_is_cleared_with_the_reference_error():
    session = PythonSession(cells=["1 / 0"])
    result = run("1 + 1", session)
    assert result.output.startswith("RuntimeError: Sandbox state restoration failed after the execution worker "
                                    "restarted.") and result.status == "error"
    assert session.cells == []


def test_a_dying_program_closes_the_connection():
    assert run("import os\nos._exit(3)", PythonSession()).output == "connection closed"


def test_the_loop_executes_calls_until_an_answer_and_keeps_every_call():
    sent = []

    async def send(messages, **options):
        sent.append((list(messages), options))
        step = len(sent)
        if step == 1:
            return {"content": "", "reasoning_content": "plan", "finish_reason": "tool_calls", "completion_tokens": 3,
                    "latency": 0.5, "tool_calls": [
                        {"id": "a", "type": "function", "function": {"name": "stateful_python_code_exec",
                                                                     "arguments": json.dumps({"code": "n = 7\nn"})}},
                        {"id": "b", "type": "function", "function": {"name": "other", "arguments": "{}"}},
                        {"id": "c", "type": "function", "function": {"name": "stateful_python_code_exec",
                                                                     "arguments": "n ="}}]}
        return {"content": "\\boxed{7}", "reasoning_content": "done", "finish_reason": "stop",
                "completion_tokens": 4, "latency": 0.25}

    body = asyncio.run(tool_loop(send, [{"role": "user", "content": "q"}], [QUICK], temperature=0.5))
    assert [options for _, options in sent] == [{"tools": [QUICK.spec()], "temperature": 0.5}] * 2
    assert [message["content"] for message in sent[1][0][2:]] == ["7", EXECUTION_FAILED, PARSE_FAILED]
    assert sent[1][0][1]["reasoning_content"] == "plan"  # the reply goes back as the server sent it
    assert (body["content"], body["reasoning_content"], body["completion_tokens"], body["latency"]) == (
        "\\boxed{7}", "plan\ndone", 7, 0.75)
    calls = body["tool_use"]["calls"]
    assert [(c["id"], c["code"], c["status"]) for c in calls] == [("a", "n = 7\nn", "completed"), ("b", None, "failed"),
                                                                 ("c", None, "failed")]
    assert calls[1]["reason"] == "TypeError: no tool 'other' taking these arguments" and "reason" not in calls[2]
    assert all(call["wall_seconds"] >= 0 for call in calls) and calls[0]["wall_seconds"] > 0
    assert body["tool_use"]["stopped"] == "answer" and body["tool_use"]["replies"] == 2



def test_a_tool_that_raises_is_a_failed_call_but_a_refusing_sandbox_fails_the_item(monkeypatch):
    from pytest_nemoeval.sandbox import SandboxError
    from pytest_nemoeval.tools import python_tool

    replies = iter([{"content": None, "tool_calls": [{"id": "a", "type": "function", "function": {
        "name": "stateful_python_code_exec", "arguments": '{"code": "1"}'}}]}, {"content": "done"}] * 2)

    async def send(messages, **options):
        return next(replies)

    async def broken(*args, **kwargs):
        raise OSError("too many open files")

    monkeypatch.setattr(python_tool, "run_python", broken)
    body = asyncio.run(tool_loop(send, [{"role": "user", "content": "q"}], [QUICK]))
    (failed,) = body["tool_use"]["calls"]
    assert (failed["output"], failed["status"], failed["reason"]) == (EXECUTION_FAILED, "failed",
                                                                      "OSError: too many open files")

    async def refusing(*args, **kwargs):
        raise SandboxError("--sandbox-strict refuses")

    monkeypatch.setattr(python_tool, "run_python", refusing)
    with pytest.raises(SandboxError):
        asyncio.run(tool_loop(send, [{"role": "user", "content": "q"}], [QUICK]))


# NVIDIA-NeMo/Evaluator (ac66aff5) examples/nemotron/local_nvidia_nemotron_3_nano_30b_a3_tools.yaml: num_repeats,
# ++inference.tokens_to_generate=null and the global params of its tasks
PUBLISHED_TOOL_TASKS = {"aime25_tools": 64, "gpqa_tools": 8}


@pytest.mark.parametrize("name", sorted(PUBLISHED_TOOL_TASKS))
def test_tools_recipe_and_variants_run_the_published_tools_tasks(name):
    recipe = yaml.safe_load((ROOT / "recipes" / "nemotron_3_nano_30b_a3b_tools.yaml").read_text())
    run_config = RunConfig(tree=recipe, thresholds=[])
    variant = load_suite_module(str(ROOT / "suites" / f"test_{name}.py")).suite
    assert variant.tools == [PythonTool()] and variant.data_file == name.removesuffix("_tools")
    for repeats, generation in ((variant.repeats, variant.generation),  # the suite alone, and with the recipe
                                (run_config.repeats_for(name, variant.repeats),
                                 run_config.generation_for(name, variant.generation))):
        assert repeats == PUBLISHED_TOOL_TASKS[name] and generation["max_new_tokens"] is None
    assert {key: generation[key] for key in ("temperature", "top_p")} == {"temperature": 0.99999, "top_p": 0.99999}
