"""LiveCodeBench code generation: its data files, the program taken from a reply, its test cases, and its grading
harness (run in the sandbox).

Sources: lcb_runner/benchmarks/code_generation.py (test cases: public then private; private ones may be
base64(zlib(pickle(json text)))), lcb_runner/evaluation/testing_util.py (how a program is run and compared;
re-written in runner.py), lcb_runner/evaluation/compute_code_generation_metrics.py (a whole-problem time limit of
(timeout + 1) * tests + 5 s), NeMo Skills' livecodebench evaluator (timeout 6 s per test) and its
evaluator/code.py `preprocess_code` as of commit 0b012df8 (Nov 2025, the nemo_skills:25.11 container).
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
from pathlib import Path
from typing import Any, Sequence

from pytest_nemoeval.data import DataSource, load_dataset
from pytest_nemoeval.errors import DataError

TEST_TIMEOUT = 6  # seconds per test: NeMo Skills LiveCodeBenchEvaluatorConfig.timeout
HUB_PATH = "livecodebench/code_generation_lite"
REVISION = "0fe84c3912ea0c4d4a78037083943e8f0c4dd505"  # release_v6's files (see docs/fidelity.md)
FENCE = "```"


class LiveCodeBenchFiles(DataSource):
    """A release of livecodebench/code_generation_lite: release_vN is the files test.jsonl .. testN.jsonl (the
    dataset's own loading script, which `datasets` no longer runs)."""

    def __init__(self, release: str, revision: str | None = REVISION) -> None:
        number = str(release).removeprefix("release_").removeprefix("v")
        if not number.isdigit() or int(number) < 1:
            raise DataError(f"livecodebench release {release!r}: expected v1, v2, ... (e.g. v5)")
        self.release, self.revision = release, revision
        self.files = ["test.jsonl"] + [f"test{n}.jsonl" for n in range(2, int(number) + 1)]

    def describe(self) -> str:
        revision = f", revision {self.revision[:12]}" if self.revision else ""
        return f"{HUB_PATH} ({', '.join(self.files)}{revision})"

    def at(self, revision: str) -> "LiveCodeBenchFiles":
        return LiveCodeBenchFiles(self.release, revision)

    def load(self, limit: int | None) -> Sequence[dict[str, Any]]:
        at = f"@{self.revision}" if self.revision else ""
        urls = [f"hf://datasets/{HUB_PATH}{at}/{name}" for name in self.files]
        return load_dataset(self.describe(), limit, "json", data_files=urls, split="train")


def in_window(row: dict[str, Any], options: dict[str, Any]) -> bool:
    """Is the problem's contest date within [start_date, end_date] (inclusive, YYYY-MM-DD)?"""
    contest = date.fromisoformat(str(row["contest_date"])[:10])
    return _date(options["start_date"]) <= contest <= _date(options["end_date"])


def _date(value: Any) -> date:
    try:
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError:
        raise DataError(f"livecodebench date {value!r}: expected YYYY-MM-DD") from None


def solution_code(content: str | None) -> str:
    """The program NeMo Skills runs for a reply's content: evaluator/code.py `preprocess_code` at 0b012df8 (Nov 2025).

    The text after `</think>` when the reply opened `<think>` ("" if it never closed); in it the first ```python
    block, else the first ``` block with any language tag kept as code (```py gives a first line "py"); an unclosed
    fence keeps the rest of the reply; no fence: the whole reply. "" means there is no program.
    """
    # Upstream since 2025-12-11 (699dfaa6, "updating code extraction logic") takes the LAST ```python block, drops
    # an unclosed fence and, through rfind("```"), a reply whose only block is a generic fence; the published
    # Nemotron 3 Nano run used the November code above.
    text = (content or "").strip().replace("\r", "")
    if "<think>" in text:  # a lone `</think>` (no `<think>`) is left in place, as upstream
        if "</think>" not in text:
            return ""
        text = text.split("</think>", 1)[1].strip()
    for opening in (FENCE + "python", FENCE):
        if opening in text:
            after = text[text.index(opening) + len(opening):].strip()
            return after.split(FENCE, 1)[0].strip()
    return text


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


# The grading harness (runner.py, run as a file), in the sandbox with solution.py and tests.json beside it. It follows
# testing_util.run_test: one process per problem; stdin programs are wrapped in a function and fed each input
# through a patched stdin; LeetCode ones are `Solution().<fn_name>(*args)`; a per-test alarm; stop at the
# first failing test. Its verdict is the last stdout line starting with the marker.
RUNNER = (Path(__file__).parent / "runner.py").read_text()


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
