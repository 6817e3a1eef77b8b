"""LiveCodeBench (code generation, lite): release v5, contests 2024-07-01..2024-12-31 (NeMo Skills' test_v5_2407_2412).

As the published Nemotron 3 Nano evaluation ran it: NeMo Skills task ns_livecodebench, container nemo_skills:25.11
(NeMo Skills commit 0b012df8, Nov 2025), split test_v5_2407_2412, 8 repeats.
Data: livecodebench/code_generation_lite; the release and the date window are recipe settings
(`benchmarks.livecodebench.data: {release: v5, start_date: 2024-07-01, end_date: 2024-12-31}`).
Prompt: one user message, no system message: NeMo Skills' prompt config eval/livecodebench/python_codegen (a header
line, a blank line, `{question}`), the question as its dataset/livecodebench/prepare.py builds it (the problem,
the formatting message, the starter code or a `# YOUR CODE HERE` block; each run of four spaces made a tab).
Code: NeMo Skills' preprocess_code of Nov 2025 (tasks/livecodebench `solution_code`): the reply's content after
`</think>`, its first ```python block, else its first ``` block, else the whole reply. Upstream since 2025-12-11
takes the last ```python block and no program from an unclosed or generic-only fence (docs/suites/code.md, LiveCodeBench).
Grading: LiveCodeBench's harness (public and private tests, stdin/stdout and LeetCode-style functional problems,
6 s per test, stop at the first failing test; pytest_nemoeval/tasks/livecodebench/), run in the sandbox inside
the driver. 8 repeats: pass@1 is their average, pass@k unbiased.
"""

import asyncio

from pytest_nemoeval import Suite, sandbox
from pytest_nemoeval.tasks.livecodebench import (RUNNER, LiveCodeBenchFiles, in_window, parse_report, problem_tests,
                                                 solution_code)

# NeMo Skills prompt/config/eval/livecodebench/python_codegen.yaml (user only; 0b012df8)
PROMPT = ("Here is a problem for which you need to generate an executable code in python programming language.\n"
          "\n"
          "{question}")
# prepare.py's PromptConstants (after Qwen2.5-Coder's livecode_bench_cot prompts)
WITH_STARTER = ("You will use the following starter code to write the solution to the problem and enclose your "
                "code within delimiters.")
WITHOUT_STARTER = ("Read the inputs from stdin solve the problem and write the answer to stdout (do not directly "
                   "test on the sample inputs). Enclose your code within delimiters as follows. Ensure that when "
                   "the python program runs, it reads the inputs, runs the algorithm and writes output to STDOUT.")


def question(row):
    text = row["question_content"] + "\n\n"
    if row["starter_code"]:
        text += f"{WITH_STARTER}\n```python\n{row['starter_code']}\n```\n\n"
    else:
        text += f"{WITHOUT_STARTER}\n\n```python\n# YOUR CODE HERE\n```\n\n"
    return text.replace("    ", "\t")


def prompt(row):
    return PROMPT.format(question=question(row))


async def generate_and_run(sample, chat):
    reply = await chat(chat.messages)
    # the reference reads `content` only (a server's reasoning_content never reaches it), think tags included
    code = solution_code(reply.get("content"))
    if not code:  # not run: an empty program passes no test (every test expects output)
        return {**reply, "code": None, "execution": None}
    tests = await asyncio.to_thread(problem_tests, sample)  # decoding must not hold up the other items' requests
    result = await sandbox.run_python(
        RUNNER, files={"solution.py": code.encode(), "tests.json": tests.file},
        limits=sandbox.Limits(wall_seconds=tests.seconds, cpu_seconds=int(tests.seconds), memory_bytes=4 * 2**30))
    graded = parse_report(result.stdout) or {"results": [-1] * tests.count, "message": result.status}
    passed = bool(graded["results"]) and all(outcome is True for outcome in graded["results"])
    return {**reply, "code": code, "execution": {"passed": passed, "message": graded["message"],
                                                 "tests_run": len(graded["results"]),
                                                 "tests": tests.count}}


suite = Suite(
    name="livecodebench",
    data=lambda options: LiveCodeBenchFiles(options["release"]),
    data_options={"release": "v5", "start_date": "2024-07-01", "end_date": "2024-12-31"},
    keep=in_window,
    required_fields=("question_id", "question_content", "starter_code", "contest_date", "difficulty",
                     "public_test_cases", "private_test_cases", "metadata"),
    prompt=prompt,
    generation={"temperature": 0.0, "max_new_tokens": 4096},
    repeats=8,
    primary_metric="pass@1",
    category_field="difficulty",
    id_field="question_id",
    driver=generate_and_run,
)


def test_livecodebench(sample, response, verdict):
    execution = response.body.get("execution") or {}
    verdict(bool(execution.get("passed")), answer=response.body.get("code"), expected=None,
            message=execution.get("message", "no code"), difficulty=sample["difficulty"])
