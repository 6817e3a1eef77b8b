"""AIME 2026 with a Python tool: the model may run code (NeMo Skills' `stateful_python_code_exec`) while it answers.

The published tools task (NeMo Evaluator's local_nemotron-3-super-120b-a12b_tools.yaml): ns_aime2026 with
`++tool_modules=[nemo_skills.mcp.servers.python_tool::PythonTool]`, use_sandbox, 64 repeats, no max_tokens.
Data, prompt and scoring are aime2026's (test_aime2026.py); the tool runs in the sandbox (pytest_nemoeval/tools).
"""

from pathlib import Path

from pytest_nemoeval.suite import load_suite_module
from pytest_nemoeval.tools import PythonTool

base = load_suite_module(str(Path(__file__).with_name("test_aime2026.py")))

suite = base.suite.variant(name="aime2026_tools", tools=[PythonTool()], repeats=64)


def test_aime2026_tools(sample, response, verdict):
    base.test_aime2026(sample, response, verdict)
