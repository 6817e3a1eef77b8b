"""GPQA-Diamond with a Python tool: the model may run code (NeMo Skills' `stateful_python_code_exec`) while it answers.

The published tools task (NeMo Evaluator examples/nemotron/local_nvidia_nemotron_3_nano_30b_a3_tools.yaml):
ns_gpqa with `++prompt_config=eval/aai/mcq-4choices` (gpqa's prompt here), the Python tool, use_sandbox,
8 repeats, `++inference.tokens_to_generate=null` (no max_tokens). Data, options and scoring are gpqa's
(test_gpqa.py); the tool runs in the sandbox (pytest_nemoeval/tools).
"""

from pathlib import Path

from pytest_nemoeval.suite import load_suite_module
from pytest_nemoeval.tools import PythonTool

base = load_suite_module(str(Path(__file__).with_name("test_gpqa.py")))

suite = base.suite.variant(name="gpqa_tools", tools=[PythonTool()], repeats=8, generation={"max_new_tokens": None})


def test_gpqa_tools(sample, response, verdict):
    base.test_gpqa(sample, response, verdict)
