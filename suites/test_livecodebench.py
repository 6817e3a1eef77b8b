"""LiveCodeBench (code generation, lite): release v5, contests 2024-07-01..2024-12-31 (NeMo Skills' test_v5_2407_2412).

Data: livecodebench/code_generation_lite; the release and the date window are recipe settings
(`benchmarks.livecodebench.data: {release: v5, start_date: 2024-07-01, end_date: 2024-12-31}`).
Prompt: the question as NeMo Skills' dataset/livecodebench/prepare.py builds it (the problem, the reference's
formatting message, the starter code or a `# YOUR CODE HERE` block; four spaces written as a tab).
Code: the last fenced block (LiveCodeBench's extract_code). Grading: LiveCodeBench's harness (public and
private tests, stdin/stdout and LeetCode-style functional problems, 6 s per test, stop at the first failing
test; pytest_nemoeval/tasks/livecodebench/), run in the sandbox inside the driver. 8 repeats: pass@1 is their
average, pass@k unbiased.
"""

import asyncio

from pytest_nemoeval import Response, Suite, last_code_block, sandbox
from pytest_nemoeval.tasks.livecodebench import RUNNER, LiveCodeBenchFiles, in_window, parse_report, problem_tests

WITH_STARTER = ("You will use the following starter code to write the solution to the problem and enclose your "
                "code within delimiters.")
WITHOUT_STARTER = ("Read the inputs from stdin solve the problem and write the answer to stdout (do not directly "
                   "test on the sample inputs). Enclose your code within delimiters as follows. Ensure that when "
                   "the python program runs, it reads the inputs, runs the algorithm and writes output to STDOUT.")


def prompt(row):
    question = row["question_content"] + "\n\n"
    if row["starter_code"]:
        question += f"{WITH_STARTER}\n```python\n{row['starter_code']}\n```\n\n"
    else:
        question += f"{WITHOUT_STARTER}\n\n```python\n# YOUR CODE HERE\n```\n\n"
    return question.replace("    ", "\t")


async def generate_and_run(sample, chat):
    reply = await chat(chat.messages)
    text = Response.from_body(reply).text  # the answer, without the reasoning trace
    code = last_code_block(text)
    if code is None:
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
    id_field="question_id",
    driver=generate_and_run,
)


def test_livecodebench(sample, response, verdict):
    execution = response.body.get("execution") or {}
    verdict(bool(execution.get("passed")), answer=response.body.get("code"), expected=None,
            message=execution.get("message", "no code block"), difficulty=sample["difficulty"])
