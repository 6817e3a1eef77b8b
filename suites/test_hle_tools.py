"""Humanity's Last Exam with a Python tool (NeMo Skills' `stateful_python_code_exec`, run in the sandbox).

The model card reports HLE with tools, but no tools task for HLE was published: the settings are hle's
(test_hle.py: text-only questions, 1 repeat, its judge and metrics) with the Python tool and no max_tokens,
as the published tools tasks. The driver is hle's: its `await chat(chat.messages)` runs the tool loop, then
the judge grades the answer as before.
"""

from pathlib import Path

from pytest_nemoeval.suite import load_suite_module
from pytest_nemoeval.tools import PythonTool

base = load_suite_module(str(Path(__file__).with_name("test_hle.py")))

suite = base.suite.variant(name="hle_tools", tools=[PythonTool()], repeats=1, generation={"max_new_tokens": None})


def test_hle_tools(sample, response, verdict):
    base.test_hle(sample, response, verdict)
