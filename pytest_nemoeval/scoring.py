"""What a scorer (a suite's test function) receives and records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pytest_nemoeval.extraction import split_reasoning


@dataclass(frozen=True)
class Response:
    """The model's reply to one item. `text` is the final answer with any reasoning trace removed."""

    text: str
    reasoning: str
    cut_off_in_reasoning: bool
    finish_reason: str | None
    completion_tokens: int | None
    latency: float | None
    tool_calls: list[dict[str, Any]] | None = None
    body: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # all a driver returned

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> "Response":
        text, reasoning, cut_off = split_reasoning(body.get("content"), body.get("reasoning_content"))
        return cls(text, reasoning, cut_off, body.get("finish_reason"), body.get("completion_tokens"),
                   body.get("latency"), body.get("tool_calls"), body)


@dataclass
class Verdict:
    """Call it once per item: `verdict(answer == expected, answer=answer, expected=expected)`.

    `metric_inputs` (a small JSON-able dict) reaches the metric hooks as `SampleOutcome.inputs`, for
    suite-specific metrics (per-category scores, per-instruction results, a judge's confidence, ...);
    other keyword details only go into samples.jsonl.
    """

    record: dict[str, Any] | None = field(default=None)
    graded: bool = True  # False: `correct=None`, the item is graded with the whole run (Suite.run_grader)

    def __call__(self, correct: bool | None, *, answer: Any = None, expected: Any = None,
                 metric_inputs: dict[str, Any] | None = None, **details: Any) -> None:
        if self.record is not None:
            raise RuntimeError("verdict() was already called for this item")
        self.graded = correct is not None
        self.record = {"correct": bool(correct), "extracted": answer, "expected": expected, **details}
        if metric_inputs is not None:
            self.record["metric_inputs"] = metric_inputs

    @property
    def correct(self) -> bool:
        return bool(self.record and self.record["correct"])

    @property
    def name(self) -> str:
        """The outcome as samples.jsonl and the test report name it: correct, incorrect or ungraded."""
        return "ungraded" if not self.graded else "correct" if self.correct else "incorrect"
