"""AIME 2025 with a Python tool: the model may run code (NeMo Skills' `stateful_python_code_exec`) while it answers.

The published tools task (NeMo Evaluator examples/nemotron/local_nvidia_nemotron_3_nano_30b_a3_tools.yaml):
ns_aime2025 with `++tool_modules=[nemo_skills.mcp.servers.python_tool::PythonTool]`, use_sandbox, 64 repeats,
`++inference.tokens_to_generate=null` (no max_tokens). Data, prompt and scoring are aime25's (test_aime25.py);
the tool runs in the sandbox (pytest_nemoeval/tools).
"""

from pathlib import Path

from pytest_nemoeval.suite import load_suite_module
from pytest_nemoeval.tools import PythonTool

base = load_suite_module(str(Path(__file__).with_name("test_aime25.py")))

suite = base.suite.variant(name="aime25_tools", tools=[PythonTool()], repeats=64,
                           generation={"max_new_tokens": None})


def test_aime25_tools(sample, response, verdict):
    base.test_aime25(sample, response, verdict)
