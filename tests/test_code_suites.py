"""HumanEval and LiveCodeBench: their drivers grade real replies in the real sandbox, on made data in each
dataset's schema (correct, wrong answer, runtime error, timeout, syntax error, no code block); the suites run
through pytest against the mock server; LiveCodeBench's private tests are decoded without unrestricted pickle."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import pickle
import shutil
import zlib

import pytest

from helpers import ROOT, copy_suites, results, samples
from pytest_nemoeval.tasks import livecodebench
from pytest_nemoeval.tasks.livecodebench import LiveCodeBenchFiles, decode_tests, in_window
from pytest_nemoeval.scoring import Response, Verdict
from pytest_nemoeval.errors import DataError


def load_suite(name: str):
    spec = importlib.util.spec_from_file_location(f"suite_{name}", ROOT / "suites" / f"test_{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HUMANEVAL = load_suite("humaneval")
LCB = load_suite("livecodebench")


class ScriptedChat:
    """Stands in for the engine: the model's reply is `content`."""

    def __init__(self, content: str) -> None:
        self.content = content
        self.messages = [{"role": "user", "content": "..."}]
        self.settings = {"sandbox_workers": 2}

    async def __call__(self, messages, **options):
        return {"content": self.content, "finish_reason": "stop"}


def grade(module, scorer, sample: dict, reply: str) -> dict:
    body = asyncio.run(module.generate_and_run(sample, ScriptedChat(reply)))
    recorded = Verdict()
    scorer(sample, Response.from_body(body), recorded)
    return recorded.record


def fenced(code: str) -> str:
    return f"Here you go:\n```python\n{code}\n```\nDone."


# -- HumanEval -------------------------------------------------------------------------------------------

ADD = {"task_id": "Made/0", "prompt": "def add(a, b):\n    \"\"\"Return a + b.\"\"\"\n", "entry_point": "add",
       "canonical_solution": "    return a + b\n",
       "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"}


@pytest.mark.parametrize("reply, result", [
    (fenced("def add(a, b):\n    return a + b"), "passed"),
    (fenced("def add(a, b):\n    return a - b"), "failed: "),  # wrong answer: a bare AssertionError
    (fenced("def add(a, b):\n    return a + undefined_name"), "failed: name 'undefined_name' is not defined"),
    (fenced("def add(a, b):\n    while True:\n        pass"), "timed out"),
    (fenced("def add(a, b)\n    return a + b"), "failed: expected ':' (check_program.py, line 3)"),
    ("The answer is a + b.", "no code block"),
    (fenced("import sys\ndef add(a, b):\n    sys.exit(0)"), "failed: 0"),  # exiting early is no pass
    (fenced("import os\ndef add(a, b):\n    os._exit(0)"), "failed: the program ended with status ok"),
], ids=["correct", "wrong", "runtime-error", "timeout", "syntax-error", "no-code-block", "exit", "hard-exit"])
def test_humaneval_grading(reply, result):
    record = grade(HUMANEVAL, HUMANEVAL.test_humaneval, ADD, reply)
    assert (record["correct"], record["result"]) == (result == "passed", result)
    assert (record["extracted"] is None) == (result == "no code block")


def test_humaneval_canonical_solutions_of_the_shipped_problems_pass():
    problems = HUMANEVAL.HumanEvalPackage().load(None)
    assert len(problems) == 164
    for problem in problems[:3]:
        reply = fenced(problem["prompt"] + problem["canonical_solution"])
        assert grade(HUMANEVAL, HUMANEVAL.test_humaneval, problem, reply)["correct"], problem["task_id"]


# -- LiveCodeBench ---------------------------------------------------------------------------------------

def packed(tests: list[dict]) -> str:
    """The lite release's private-test encoding: base64(zlib(pickle(JSON text)))."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode()


def lcb_row(question_id: str, public: list[dict], private: list[dict], starter: str = "", func: str | None = None,
            day: str = "2024-08-03T00:00:00") -> dict:
    return {"question_title": question_id, "question_content": f"Solve {question_id}.", "platform": "atcoder",
            "question_id": question_id, "contest_id": "abc999", "contest_date": day, "starter_code": starter,
            "difficulty": "easy", "public_test_cases": json.dumps(public), "private_test_cases": packed(private),
            "metadata": json.dumps({"func_name": func} if func else {})}


SUM_STDIN = lcb_row("sum", [{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}],
                    [{"input": "10 20\n", "output": "30\n", "testtype": "stdin"},
                     {"input": "0.5 0.25\n", "output": "0.750\n", "testtype": "stdin"}])
TWO_SUM = lcb_row("two-sum", [{"input": "[2, 7, 11]\n9", "output": "[0, 1]", "testtype": "functional"}],
                  [{"input": "[3, 3]\n6", "output": "[0, 1]", "testtype": "functional"}],
                  starter="class Solution:\n    def twoSum(self, nums: List[int], target: int) -> List[int]:\n        ",
                  func="twoSum")
STDIN_CORRECT = ("from decimal import Decimal\na, b = input().split()\n"
                 "print(Decimal(a) + Decimal(b))")
CALL_CORRECT = ("class Solution:\n    def twoSum(self, nums, target):\n        seen = {}\n"
                "        for i, n in enumerate(nums):\n            if target - n in seen:\n"
                "                return (seen[target - n], i)\n            seen[n] = i")


@pytest.mark.parametrize("row, reply, correct, message", [
    (SUM_STDIN, fenced(STDIN_CORRECT), True, "passed"),
    (SUM_STDIN, fenced("a, b = map(int, input().split())\nprint(a + b)"), False, "Runtime Error*"),  # 0.5
    (SUM_STDIN, fenced("print(3)"), False, "Wrong Answer"),
    (SUM_STDIN, fenced("import sys\nfrom decimal import Decimal\na, b = sys.stdin.buffer.read().split()\n"
                       "print(Decimal(a.decode()) + Decimal(b.decode()))"), True, "passed"),
    (SUM_STDIN, fenced("import sys\nfor line in sys.stdin:\n    print(line)"), False, "Runtime Error*"),  # as upstream
    (SUM_STDIN, fenced("import sys\nsys.stdin.readline()\nwhile True:\n    pass"), False, "Time Limit Exceeded"),
    (SUM_STDIN, fenced("print(1 +)"), False, "Error during testing*"),
    (SUM_STDIN, "I would add the numbers.", False, "Error during testing*"),  # no fence: the reply is the program
    (SUM_STDIN, STDIN_CORRECT, True, "passed"),
    (SUM_STDIN, fenced(STDIN_CORRECT) + "\nShorter:\n```python\nprint(3)\n```", True, "passed"),  # the first block
    (SUM_STDIN, f"```py\n{STDIN_CORRECT}\n```", False, "Runtime Error*"),  # `py` is a line of the program
    (SUM_STDIN, "<think>```python\nprint(3)\n```</think>\n" + fenced(STDIN_CORRECT), True, "passed"),
    (SUM_STDIN, "<think>Adding them:\n" + fenced(STDIN_CORRECT), False, "no code"),  # the trace never ended
    (TWO_SUM, fenced(CALL_CORRECT), True, "passed"),
    (TWO_SUM, fenced("class Solution:\n    def twoSum(self, nums, target):\n        return [1, 0]"), False,
     "Wrong Answer"),
    (TWO_SUM, fenced("class Solution:\n    def twoSum(self, nums, target):\n        return nums[99]"), False,
     "Runtime Error*"),
    (TWO_SUM, fenced("class Solution:\n    def twoSum(self, nums, target):\n        while True: pass"), False,
     "Time Limit Exceeded"),
], ids=["stdin-correct", "stdin-runtime-error", "stdin-wrong", "stdin-buffer", "stdin-iterated", "stdin-timeout", "stdin-syntax-error",
        "stdin-prose", "stdin-no-fence", "stdin-first-block", "stdin-py-tag", "stdin-think", "stdin-think-unclosed",
        "call-correct", "call-wrong", "call-runtime-error", "call-timeout"])
def test_livecodebench_grading(row, reply, correct, message, monkeypatch):
    monkeypatch.setattr("pytest_nemoeval.tasks.livecodebench.TEST_TIMEOUT", 1)  # the reference's 6 s, shortened
    record = grade(LCB, LCB.test_livecodebench, row, reply)
    assert record["correct"] == correct
    assert record["message"] == message or (message.endswith("*") and record["message"].startswith(message[:-1]))


def test_livecodebench_stops_at_the_first_failing_test(monkeypatch):
    body = asyncio.run(LCB.generate_and_run(SUM_STDIN, ScriptedChat(fenced("print(3)"))))
    assert body["execution"]["tests_run"] == 2 and body["execution"]["tests"] == 3  # passes 1, fails 2, never runs 3


def test_a_problems_tests_are_decoded_once_for_all_its_repeats(monkeypatch):
    decoded = []
    monkeypatch.setattr(livecodebench, "decode_tests", lambda field: decoded.append(field) or decode_tests(field))
    row = lcb_row("once", [{"input": "1\n", "output": "1\n", "testtype": "stdin"}], [])
    first, again = livecodebench.problem_tests(row), livecodebench.problem_tests(json.loads(json.dumps(row)))  # a repeat
    assert first is again and first.count == 1 and len(decoded) == 2  # public and private, once


def test_private_tests_decode_only_plain_strings(tmp_path):
    tests = [{"input": "1\n", "output": "2\n", "testtype": "stdin"}]
    assert decode_tests(packed(tests)) == tests
    assert decode_tests(json.dumps(tests)) == tests

    class Exploit:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    hostile = base64.b64encode(zlib.compress(pickle.dumps(Exploit()))).decode()
    with pytest.raises(DataError, match="refused to load io.open"):
        decode_tests(hostile)
    assert not (tmp_path / "pwned").exists()
    with pytest.raises(DataError, match="holds a list, expected a string"):
        decode_tests(base64.b64encode(zlib.compress(pickle.dumps([1, 2]))).decode())


def test_release_and_date_window():
    assert LiveCodeBenchFiles("v5").files == ["test.jsonl", "test2.jsonl", "test3.jsonl", "test4.jsonl", "test5.jsonl"]
    with pytest.raises(DataError, match="expected v1, v2"):
        LiveCodeBenchFiles("latest")
    window = {"start_date": "2024-07-01", "end_date": "2024-12-31"}
    assert in_window({"contest_date": "2024-07-01T00:00:00"}, window)
    assert in_window({"contest_date": "2024-12-31T23:30:00"}, window)
    assert not in_window({"contest_date": "2025-01-01T00:00:00"}, window)


# -- through pytest --------------------------------------------------------------------------------------

@pytest.fixture
def code_bench(pytester: pytest.Pytester) -> pytest.Pytester:
    """suites/ with LiveCodeBench, data/ with three problems (one outside the date window)."""
    copy_suites(pytester, "livecodebench")
    (pytester.path / "data").mkdir()
    rows = [SUM_STDIN, lcb_row("late", json.loads(SUM_STDIN["public_test_cases"]), [], day="2025-03-01T00:00:00"),
            lcb_row("product", [{"input": "2 3\n", "output": "6\n", "testtype": "stdin"}], [])]
    (pytester.path / "data" / "livecodebench.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return pytester


def test_livecodebench_suite_runs_through_pytest(code_bench, mock_server):
    server = mock_server("--answer", fenced(STDIN_CORRECT))
    result = code_bench.runpytest_subprocess("suites/", "--endpoint", server.url,
                                             "--data-dir", "data", "--repeats", "2", "--sandbox-workers", "3")
    assert result.parseoutcomes() == {"correct": 2, "incorrect": 2}  # the 2025 problem is outside the window
    entry = results(code_bench)["benchmarks"]["livecodebench"]
    assert (entry["samples"], entry["metrics"]["pass@1"]["value"], entry["metrics"]["pass@2"]["value"]) == (2, 0.5, 0.5)
    assert results(code_bench)["config"]["sandbox_workers"] == 3
    assert {row["message"] for row in samples(code_bench, "livecodebench")} == {"passed", "Wrong Answer"}

    (code_bench.path / "recipe.yaml").write_text(
        "benchmarks:\n  livecodebench:\n    data: {start_date: 2024-01-01, end_date: 2025-12-31}\n")
    wider = code_bench.runpytest_subprocess("suites/", "--endpoint", server.url,
                                            "--data-dir", "data", "--repeats", "1", "--recipe", "recipe.yaml",
                                            "--collect-only", "-q")
    wider.stdout.fnmatch_lines(["*3 tests collected*"])
    (code_bench.path / "recipe.yaml").write_text("benchmarks:\n  livecodebench:\n    data: {relase: v6}\n")
    typo = code_bench.runpytest_subprocess("suites/", "--data-dir", "data", "--recipe", "recipe.yaml", "--collect-only")
    typo.stderr.fnmatch_lines(["ERROR: livecodebench: unknown data option 'relase' (known: end_date, release, "
                               "revision, start_date)"])


def test_humaneval_suite_runs_through_pytest(code_bench, mock_server):
    (code_bench.path / "suites" / "test_livecodebench.py").unlink()
    shutil.copy(ROOT / "suites" / "test_humaneval.py", code_bench.path / "suites")
    rows = [ADD, {**ADD, "task_id": "Made/1", "test": "def check(candidate):\n    assert candidate(2, 2) == 5\n"}]
    (code_bench.path / "data" / "humaneval.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    server = mock_server("--answer", fenced("def add(a, b):\n    return a + b"))
    result = code_bench.runpytest_subprocess("suites/", "--endpoint", server.url,
                                             "--data-dir", "data", "-n", "2")
    assert result.ret == 0, result.stdout.str()
    assert result.parseoutcomes() == {"correct": 1, "incorrect": 1}
    assert results(code_bench)["benchmarks"]["humaneval"]["metrics"]["pass@1"]["value"] == 0.5


def test_bad_sandbox_workers_is_one_line(code_bench):
    result = code_bench.runpytest_subprocess("suites/", "--sandbox-workers", "0", "--collect-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --sandbox-workers must be at least 1, got 0"])


@pytest.mark.timeout(900)  # five generations on the CPU model: ~1 min alone, minutes on a busy 2-core box
def test_humaneval_runs_on_the_embedded_model(pytester):
    """The code suite CI runs end to end: the shipped problems, the real embedded model, the real sandbox."""
    copy_suites(pytester, "humaneval")
    result = pytester.runpytest_subprocess("suites/", "--limit-samples", "5", "--set", "generation.max_new_tokens=128")
    assert result.ret == 0, result.stdout.str()
    entry = results(pytester)["benchmarks"]["humaneval"]
    assert (entry["samples"], entry["items"], entry["errors"]) == (5, 5, 0)
    assert 0.0 <= entry["metrics"]["pass@1"]["value"] <= 1.0
    rows = samples(pytester, "humaneval")
    assert sorted(row["sample_id"] for row in rows) == [f"HumanEval/{n}" for n in range(5)]
    # every reply was graded: run in the sandbox, or recorded as having no code block
    assert all(row["result"] == "passed" or row["result"] in ("timed out", "no code block")
               or row["result"].startswith("failed: ") for row in rows)
    assert any(row["result"] != "no code block" for row in rows), [row["response"] for row in rows]


def test_livecodebench_v6_is_the_v6_window_of_the_same_suite(code_bench, mock_server):
    shutil.copy(ROOT / "suites" / "test_livecodebench_v6.py", code_bench.path / "suites")
    server = mock_server("--answer", fenced(STDIN_CORRECT))
    result = code_bench.runpytest_subprocess("suites/", "--endpoint", server.url, "--data-dir", "data", "--repeats", "1")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    benchmarks = results(code_bench)["benchmarks"]
    # v5 (2024-07..2024-12) leaves the 2025-03 problem out, v6 (2024-08..2025-05) keeps it; one data file for both
    assert (benchmarks["livecodebench"]["samples"], benchmarks["livecodebench_v6"]["samples"]) == (2, 3)
    assert benchmarks["livecodebench_v6"]["dataset"]["source"].endswith("data/livecodebench.jsonl")
    assert results(code_bench)["config"]["benchmarks"] == {}
    assert LiveCodeBenchFiles("v6").files[-1] == "test6.jsonl"
