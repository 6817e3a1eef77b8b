"""LiveCodeBench code generation: its data files, its test cases, and its grading harness (run in the sandbox).

Sources: lcb_runner/benchmarks/code_generation.py (test cases: public then private; private ones may be
base64(zlib(pickle(json text)))), lcb_runner/evaluation/testing_util.py (how a program is run and compared;
re-written in RUNNER), lcb_runner/evaluation/compute_code_generation_metrics.py (a whole-problem time limit of
(timeout + 1) * tests + 5 s), NeMo Skills' livecodebench evaluator (timeout 6 s per test).
"""

from __future__ import annotations

import base64
import functools
import io
import json
import pickle
import zlib
from dataclasses import dataclass
from datetime import date
from typing import Any, Sequence

from pytest_nemoeval.errors import DataError

TEST_TIMEOUT = 6  # seconds per test: NeMo Skills LiveCodeBenchEvaluatorConfig.timeout
HUB_PATH = "livecodebench/code_generation_lite"


class LiveCodeBenchFiles:
    """A release of livecodebench/code_generation_lite: release_vN is the files test.jsonl .. testN.jsonl (the
    dataset's own loading script, which `datasets` no longer runs)."""

    def __init__(self, release: str) -> None:
        number = str(release).removeprefix("release_").removeprefix("v")
        if not number.isdigit() or int(number) < 1:
            raise DataError(f"livecodebench release {release!r}: expected v1, v2, ... (e.g. v5)")
        self.files = ["test.jsonl"] + [f"test{n}.jsonl" for n in range(2, int(number) + 1)]

    def describe(self) -> str:
        return f"{HUB_PATH} ({', '.join(self.files)})"

    def load(self, limit: int | None) -> Sequence[dict[str, Any]]:
        try:
            import datasets

            urls = [f"hf://datasets/{HUB_PATH}/{name}" for name in self.files]
            # the test cases are text: never let the json loader guess other types for them
            dataset = datasets.load_dataset("json", data_files=urls, split="train")
        except Exception as exc:  # datasets raises many types; the user needs one line either way
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            raise DataError(f"could not load {self.describe()} through datasets: {reason}") from None
        return dataset if limit is None else dataset.select(range(min(limit, len(dataset))))


def in_window(row: dict[str, Any], options: dict[str, Any]) -> bool:
    """Is the problem's contest date within [start_date, end_date] (inclusive, YYYY-MM-DD)?"""
    contest = date.fromisoformat(str(row["contest_date"])[:10])
    return _date(options["start_date"]) <= contest <= _date(options["end_date"])


def _date(value: Any) -> date:
    try:
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError:
        raise DataError(f"livecodebench date {value!r}: expected YYYY-MM-DD") from None


class _StringsOnly(pickle.Unpickler):
    """Hub data is never unpickled unrestricted: no class, no function, nothing but plain data."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refused to load {module}.{name} from a pickle")


def decode_tests(field: str) -> list[dict[str, Any]]:
    """A test-case field: JSON, or base64(zlib(pickle(JSON text))) for the private tests of the lite release."""
    try:
        return json.loads(field)
    except ValueError:
        pass
    try:
        text = _StringsOnly(io.BytesIO(zlib.decompress(base64.b64decode(field.encode())))).load()
    except Exception as exc:
        raise DataError(f"livecodebench test cases cannot be decoded: {type(exc).__name__}: {exc}") from None
    if not isinstance(text, str):
        raise DataError(f"livecodebench test cases: the pickle holds a {type(text).__name__}, expected a string")
    return json.loads(text)


@dataclass(frozen=True)
class Tests:
    """A problem's tests as RUNNER reads them (tests.json), their number and the time limit for all of them."""

    file: bytes
    count: int
    seconds: float


def problem_tests(row: dict[str, Any]) -> Tests:
    """The problem's tests, decoded once for all its repeats (private tests are megabytes of pickled text)."""
    return _tests(row["public_test_cases"], row["private_test_cases"], row.get("metadata") or "{}", TEST_TIMEOUT)


@functools.lru_cache(maxsize=16)
def _tests(public: str, private: str, metadata: str, timeout: float) -> Tests:
    tests = decode_tests(public) + decode_tests(private)
    spec = {"inputs": [test["input"] for test in tests], "outputs": [test["output"] for test in tests],
            "fn_name": json.loads(metadata).get("func_name"), "timeout": timeout}
    # compute_code_generation_metrics.check_correctness's limit for the whole problem
    return Tests(json.dumps(spec).encode(), len(tests), (timeout + 1) * len(tests) + 5)


# The grading harness, run in the sandbox with solution.py and tests.json beside it. It follows
# testing_util.run_test: one process per problem; stdin programs are wrapped in a function and fed each input
# through a patched stdin; LeetCode ones are `Solution().<fn_name>(*args)`; a per-test alarm; stop at the
# first failing test. Its verdict is the last stdout line starting with the marker.
RUNNER = r'''
import ast, faulthandler, json, os, signal, sys
from io import StringIO
from unittest.mock import mock_open, patch

IMPORTS = """from string import *
from re import *
from datetime import *
from collections import *
from heapq import *
from bisect import *
from copy import *
from math import *
from random import *
from statistics import *
from itertools import *
from functools import *
from operator import *
from io import *
from sys import *
from json import *
from builtins import *
from typing import *
import string
import re
import datetime
import collections
import heapq
import bisect
import copy
import math
import random
import statistics
import itertools
import functools
import operator
import io
import sys
import json
sys.setrecursionlimit(50000)
"""
MARKER = "\x00nemoeval-lcb "
REPORT = os.fdopen(os.dup(1), "w")


class Timeout(Exception):
    pass


def on_alarm(signum, frame):
    raise Timeout()


def report(results, message):
    REPORT.write(MARKER + json.dumps({"results": results, "message": message}) + "\n")
    REPORT.flush()
    os._exit(0)


def without_main_guard(code):
    try:
        tree = ast.parse(code)
        last = tree.body[-1]
        if isinstance(last, ast.If) and ast.unparse(last.test).strip() == "__name__ == '__main__'":
            return ast.unparse(tree.body[:-1]) + "\n" + ast.unparse(last.body)
    except Exception:
        pass
    return code


def as_function(code):
    try:
        tree = ast.parse(code)
        imports = [s for s in tree.body if isinstance(s, (ast.Import, ast.ImportFrom))]
        body = [s for s in tree.body if not isinstance(s, (ast.Import, ast.ImportFrom))]
        function = ast.FunctionDef(name="wrapped_function", args=ast.arguments(
            posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]), body=body, decorator_list=[],
            lineno=-1)
        return IMPORTS + "\n" + ast.unparse(imports) + "\n" + ast.unparse(function)
    except Exception:
        return code


def compile_solution(code, timeout):
    signal.alarm(timeout)
    try:
        namespace = {"__name__": "tmp_sol"}
        exec(code, namespace)
        return namespace["Solution"]() if "class Solution" in code else namespace
    finally:
        signal.alarm(0)


def method_of(compiled, name):
    if isinstance(compiled, dict):
        return compiled.get(name)
    return getattr(compiled, name, None)


class Stdin:
    """testing_util.MockStdinWithBuffer: read/readline/readlines and a bytes `buffer`; like it, not iterable."""

    def __init__(self, text):
        self.text = text
        self._lines = StringIO(text)
        self.buffer = StdinBuffer(text.encode("utf-8"))

    def read(self, *args):
        return self.text

    def readline(self, *args):
        return self._lines.readline(*args)

    def readlines(self, *args):
        return self.text.split("\n")

    def __getattr__(self, name):
        return getattr(self._lines, name)


class StdinBuffer:
    def __init__(self, data):
        self.data = data

    def read(self, *args):
        return self.data

    def readline(self, *args):
        return self.data.split(b"\n")[0] + b"\n"


def call_with_stdin(method, text):
    lines = iter(text.split("\n"))

    @patch("builtins.open", mock_open(read_data=text))
    @patch("sys.stdin", Stdin(text))
    @patch("sys.stdin.readline", lambda *args: next(lines))
    @patch("sys.stdin.readlines", lambda *args: text.split("\n"))
    @patch("sys.stdin.read", lambda *args: text)
    def call(method):
        try:
            return method()
        except SystemExit:
            pass

    return call(method)


def stripped_lines(text):
    return [line.strip() for line in text.strip().split("\n")]


def as_decimals(line):
    from decimal import Decimal
    try:
        return [Decimal(part) for part in line.split()]
    except Exception:
        return None


def same_output(prediction, expected):
    got, want = stripped_lines(prediction), stripped_lines(expected)
    if len(got) != len(want):
        return False
    for a, b in zip(got, want):
        if a == b:
            continue
        x, y = as_decimals(a), as_decimals(b)
        if x is None or y is None or x != y:
            return False
    return True


def failure(results, code, exc):
    if isinstance(exc, Timeout):
        results.append(-3)
        report(results, "Time Limit Exceeded")
    results.append(-4)
    report(results, f"Runtime Error: {exc!r}"[:500])


def grade_stdio(code, spec):
    compiled = compile_solution(as_function(without_main_guard(code)), spec["timeout"])
    method = method_of(compiled, "wrapped_function")
    if method is None:
        report([-4], "Runtime Error: no code to run")
    results = []
    for given, expected in zip(spec["inputs"], spec["outputs"]):
        captured, real_stdout = StringIO(), sys.stdout
        sys.stdout = captured
        signal.alarm(spec["timeout"])
        faulthandler.enable()
        try:
            call_with_stdin(method, given)
            signal.alarm(0)
        except BaseException as exc:
            signal.alarm(0)
            sys.stdout = real_stdout
            failure(results, code, exc)
        finally:
            signal.alarm(0)
            faulthandler.disable()
            sys.stdout = real_stdout
        if not same_output(captured.getvalue(), expected):
            results.append(-2)
            report(results, "Wrong Answer")
        results.append(True)
    report(results, "passed")


def grade_call(code, spec):
    compiled = compile_solution(IMPORTS + "\n\n" + code, spec["timeout"])
    method = method_of(compiled, spec["fn_name"])
    if method is None:
        report([-4], f"Runtime Error: no method {spec['fn_name']}")
    inputs = [[json.loads(line) for line in given.split("\n")] for given in spec["inputs"]]
    outputs = [json.loads(expected) for expected in spec["outputs"]]
    results = []
    for args, expected in zip(inputs, outputs):
        signal.alarm(spec["timeout"])
        faulthandler.enable()
        try:
            prediction = method(*args)
            signal.alarm(0)
        except BaseException as exc:
            signal.alarm(0)
            failure(results, code, exc)
        finally:
            signal.alarm(0)
            faulthandler.disable()
        if isinstance(prediction, tuple):
            prediction = list(prediction)
        if prediction != expected:
            results.append(-2)
            report(results, "Wrong Answer")
        results.append(True)
    report(results, "passed")


def reliability_guard():
    """testing_util.reliability_guard: the same functions are taken away, so a program that uses them fails
    here as it does there (the sandbox, not this, is what contains it)."""
    import builtins, shutil, subprocess
    builtins.quit = None
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in ("kill system putenv remove removedirs rmdir fchdir setuid fork forkpty killpg rename renames "
                 "truncate replace unlink fchmod fchown chmod chown chroot lchflags lchmod lchown getcwd chdir").split():
        setattr(os, name, None)
    shutil.rmtree = shutil.move = shutil.chown = None
    subprocess.Popen = None
    builtins.help = None
    for name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[name] = None


sys.set_int_max_str_digits(50000)  # compute_code_generation_metrics.py sets it for the whole evaluation
try:
    import numpy  # testing_util imports it before its guard, so solutions can import it after
except ImportError:
    pass
signal.signal(signal.SIGALRM, on_alarm)
spec = json.load(open("tests.json"))
code = open("solution.py").read()
reliability_guard()
try:
    (grade_call if spec["fn_name"] else grade_stdio)(code, spec)
except BaseException as exc:
    report([-4], f"Error during testing: {exc!r}"[:500])
'''


def parse_report(stdout: str) -> dict[str, Any] | None:
    """RUNNER's verdict, or None when it never reported (killed, timed out)."""
    marker = "\x00nemoeval-lcb "
    index = stdout.rfind(marker)
    if index < 0:
        return None
    try:
        return json.loads(stdout[index + len(marker):].splitlines()[0])
    except (ValueError, IndexError):
        return None
