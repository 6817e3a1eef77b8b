"""HMMT February 2025 with a Python tool (NeMo Skills' `stateful_python_code_exec`, run in the sandbox).

No published tools task exists for HMMT: the settings are those of the published tools tasks for math
(ns_aime2025's: the Python tool, no max_tokens) with hmmt_feb25's 64 repeats, data, prompt and scoring
(test_hmmt_feb25.py).
"""

from pathlib import Path

from pytest_nemoeval.suite import load_suite_module
from pytest_nemoeval.tools import PythonTool

base = load_suite_module(str(Path(__file__).with_name("test_hmmt_feb25.py")))

suite = base.suite.variant(name="hmmt_feb25_tools", tools=[PythonTool()], repeats=64,
                           generation={"max_new_tokens": None})


def test_hmmt_feb25_tools(sample, response, verdict):
    base.test_hmmt_feb25(sample, response, verdict)
