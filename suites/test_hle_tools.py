"""Humanity's Last Exam with a Python tool (NeMo Skills' `stateful_python_code_exec`, run in the sandbox).

The published tools task: ns_hle of the Nemotron 3 Super tools configuration (NeMo Evaluator
examples/nemotron/nemotron-3-super/local_nemotron-3-super-120b-a12b_tools.yaml): the Python tool, use_sandbox,
1 repeat, no max_tokens, the gpt-4o judge; hle's data, prompt, judge and metrics (test_hle.py). The driver is hle's: its `await chat(chat.messages)` runs the tool loop, then
the judge grades the answer as before.
"""

from pathlib import Path

from pytest_nemoeval.suite import load_suite_module
from pytest_nemoeval.tools import PythonTool

base = load_suite_module(str(Path(__file__).with_name("test_hle.py")))

suite = base.suite.variant(name="hle_tools", tools=[PythonTool()], repeats=1, generation={"max_new_tokens": None})


def test_hle_tools(sample, response, verdict):
    base.test_hle(sample, response, verdict)
