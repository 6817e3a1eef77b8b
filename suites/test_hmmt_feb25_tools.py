"""HMMT February 2025 with a Python tool (NeMo Skills' `stateful_python_code_exec`, run in the sandbox).

The published tools task: ns_hmmt_feb2025 of the Nemotron 3 Super tools configuration (NeMo Evaluator
examples/nemotron/nemotron-3-super/local_nemotron-3-super-120b-a12b_tools.yaml) with
`++tool_modules=[nemo_skills.mcp.servers.python_tool::PythonTool]`, use_sandbox, 64 repeats and
`++inference.tokens_to_generate=null` (no max_tokens); hmmt_feb25's data, prompt and scoring (test_hmmt_feb25.py).
"""

from pathlib import Path

from pytest_nemoeval.suite import load_suite_module
from pytest_nemoeval.tools import PythonTool

base = load_suite_module(str(Path(__file__).with_name("test_hmmt_feb25.py")))

suite = base.suite.variant(name="hmmt_feb25_tools", tools=[PythonTool()], repeats=64,
                           generation={"max_new_tokens": None})


def test_hmmt_feb25_tools(sample, response, verdict):
    base.test_hmmt_feb25(sample, response, verdict)
