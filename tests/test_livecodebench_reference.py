"""LiveCodeBench as the published Nemotron 3 Nano evaluation ran it (NeMo Skills 0b012df8, container
nemo_skills:25.11): the prompt's bytes and the program taken from a reply, each against NeMo Skills' own code."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import re

import pytest
import yaml

from helpers import ROOT
from pytest_nemoeval.tasks.livecodebench import solution_code
from test_code_suites import LCB, TWO_SUM, lcb_row

# ---- the reference, verbatim from github.com/NVIDIA/NeMo-Skills at 0b012df8a09cd4730d31b16e90a0d8f13d145fb8
# (Apache-2.0, (c) 2025 NVIDIA CORPORATION); oracles for the tests only, never imported by the plugin.

# nemo_skills/prompt/config/eval/livecodebench/python_codegen.yaml, whole file
PYTHON_CODEGEN_YAML = """\
# default prompt for livecodebench Python

user: |-
  Here is a problem for which you need to generate an executable code in python programming language.

  {question}
"""

# nemo_skills/dataset/livecodebench/prepare.py: PromptConstants, and clean_data's inner map_fn (dedented)
class PromptConstants:
    # reference: https://github.com/QwenLM/Qwen2.5-Coder/blob/main/qwencoder-eval/reasoning/livecode_bench_cot/lcb_runner_cq/prompts/code_generation.py#L31
    FORMATTING_MESSAGE_WITH_STARTER_CODE = "You will use the following starter code to write the solution to the problem and enclose your code within delimiters."
    FORMATTING_WITHOUT_STARTER_CODE = "Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test on the sample inputs). Enclose your code within delimiters as follows. Ensure that when the python program runs, it reads the inputs, runs the algorithm and writes output to STDOUT."


def map_fn(data):
    question = data["question_content"] + "\n\n"
    if data["starter_code"]:
        question += f"{PromptConstants.FORMATTING_MESSAGE_WITH_STARTER_CODE}\n"
        question += f"```python\n{data['starter_code']}\n```\n\n"
    else:
        question += f"{PromptConstants.FORMATTING_WITHOUT_STARTER_CODE}\n\n"
        question += "```python\n# YOUR CODE HERE\n```\n\n"

    data["task_id"] = data["question_id"]
    data["question"] = question.replace("    ", "\t")
    return data


# nemo_skills/evaluation/evaluator/code.py (the version replaced upstream on 2025-12-11 by 699dfaa6)
def preprocess_code(generation_dict: dict, language="python", strip_whitespace=True):
    completion = generation_dict["generation"]
    if strip_whitespace:
        completion = completion.strip()
    completion = completion.replace("\r", "")

    ##### To handle code generation by reasoning models
    # check for <think> and </think> tags
    if "<think>" in completion:
        if "</think>" in completion:
            # thinking trace completed, solution in after the trace
            match = re.search(r"</think>\s*(.*)", completion, re.DOTALL)
            completion = match.group(1).strip() if match else None
        else:
            completion = None

    if completion is None:
        generation_dict["completion"] = ""  # no valid solution generated
        return generation_dict
    #####

    start_with_lang_tag = f"```{language}"
    generic_start_end_tag = "```"

    if start_with_lang_tag in completion:
        def_line = completion.index(start_with_lang_tag) + len(start_with_lang_tag)
        completion = completion[def_line:]
        if strip_whitespace:
            completion = completion.strip()
        try:
            next_line = completion.index(generic_start_end_tag)
            completion = completion[:next_line]
            if strip_whitespace:
                completion = completion.strip()
        except Exception:
            print(completion)
            print("================\n")

    elif generic_start_end_tag in completion:
        def_line = completion.index(generic_start_end_tag) + len(generic_start_end_tag)
        completion = completion[def_line:]
        if strip_whitespace:
            completion = completion.strip()
        try:
            next_line = completion.index(generic_start_end_tag)
            completion = completion[:next_line]
            if strip_whitespace:
                completion = completion.strip()
        except Exception:
            print(completion)
            print("================\n")

    if completion.startswith(" ") and strip_whitespace:
        completion = completion.strip()

    generation_dict["completion"] = completion
    return generation_dict


# ---- the prompt

def reference_prompt(row: dict) -> str:
    """The user message NeMo Skills sends: the yaml's `user`, filled with prepare.py's `question`."""
    return yaml.safe_load(PYTHON_CODEGEN_YAML)["user"].format(examples="", question=map_fn(dict(row))["question"])


def test_prompt_bytes_for_a_known_row():
    expected = ("Here is a problem for which you need to generate an executable code in python programming language."
                "\n\nSolve two-sum.\n\nYou will use the following starter code to write the solution to the problem "
                "and enclose your code within delimiters.\n```python\nclass Solution:\n"
                "\tdef twoSum(self, nums: List[int], target: int) -> List[int]:\n\t\t\n```\n\n")
    assert reference_prompt(TWO_SUM) == expected
    assert LCB.suite.messages(TWO_SUM, None) == [{"role": "user", "content": expected}]  # no system message


EXAMPLES = ROOT / "examples" / "data" / "livecodebench.jsonl"
EXAMPLE_ROWS = [json.loads(line) for line in EXAMPLES.read_text().splitlines()]
MADE_ROWS = [
    lcb_row("spaces", [], []) | {"question_content": "Grid:\n    #.#\n     ..\n  {braces} {0}\n\nPrint it.   "},
    lcb_row("starter", [], [], starter="def f(x):\n     return {x: 1}  # five spaces\n"),
]


@pytest.mark.parametrize("row", EXAMPLE_ROWS + MADE_ROWS + [TWO_SUM], ids=lambda row: row["question_id"])
def test_prompt_is_the_references(row):
    assert LCB.suite.messages(row, None) == [{"role": "user", "content": reference_prompt(row)}]


# ---- the program taken from a reply

@pytest.mark.parametrize("reply, code", [
    ("Here:\n```python\nprint(1)\n```\nDone", "print(1)"),
    ("```python\nA=1\n```\ntext\n```python\nB=2\n```", "A=1"),  # the first ```python block (upstream now: the last)
    ("```\nplain\n```\nthen\n```python\nB=2\n```", "B=2"),  # a ```python block before any other
    ("Here:\n```\nprint(1)\n```\nDone", "print(1)"),  # no ```python: the first fence of any kind
    ("```py\nprint(1)\n```", "py\nprint(1)"),  # the tag stays in the code (which then fails)
    ("```python3\nprint(1)\n```", "3\nprint(1)"),
    ("```cpp\nint main() {}\n```", "cpp\nint main() {}"),
    ("```python\nprint(1)\n", "print(1)"),  # unclosed: the rest of the reply
    ("Sure.\n```\nprint(1)\n", "print(1)"),
    ("print(1)", "print(1)"),  # no fence: the whole reply
    ("  I would add the numbers.\n", "I would add the numbers."),
    ("```python\n    x = 1\n    print(x)\n```", "x = 1\n    print(x)"),  # the first line's indentation is stripped
    ("```python\r\nprint(1)\r\n```\r\n", "print(1)"),
    ("<think>```python\nX\n```</think>\n```python\nprint(1)\n```", "print(1)"),  # after the trace
    ("<think>a</think>b</think>\n```python\nprint(2)\n```", "print(2)"),  # after the first `</think>`
    ("<think>reasoning ```python\nX\n```", ""),  # never closed: no program
    ("<think>a</think>", ""),
    ("```python\nX\n```</think>\n```python\nprint(1)\n```", "X"),  # a lone </think> is not a trace
    ("", ""),
    (" \n\t", ""),
], ids=["python", "first-python-of-two", "python-after-generic", "generic", "py-tag", "python3-tag", "cpp-tag",
        "unclosed-python", "unclosed-generic", "no-fence", "no-fence-prose", "indented", "crlf", "think",
        "think-twice-closed", "think-unclosed", "think-only", "lone-close-think", "empty", "blank"])
def test_solution_code_is_the_references(reply, code):
    assert solution_code(reply) == code
    assert reference_code(reply) == code


def reference_code(reply: str) -> str:
    with contextlib.redirect_stdout(io.StringIO()):  # it prints every unclosed fence
        return preprocess_code({"generation": reply})["completion"]


def test_solution_code_of_no_content_is_no_program():
    assert solution_code(None) == ""  # NeMo Skills turns a null content into "" (model/base.py)


def test_solution_code_agrees_with_the_reference_on_every_short_reply():
    pieces = ["<think>", "</think>", "```python", "```py", "```", "\n", " ", "\r\n", "x = 1", "    y", "text"]
    replies = ["".join(parts) for length in range(1, 5) for parts in itertools.product(pieces, repeat=length)]
    differ = [reply for reply in replies if solution_code(reply) != reference_code(reply)]
    assert len(replies) == 16104 and differ == []
