"""pytest-nemoeval: LLM benchmarks as pytest tests."""

from pytest_nemoeval.extraction import extract_choice_letter, last_boxed, last_code_block, split_reasoning
from pytest_nemoeval.metrics import SampleOutcome
from pytest_nemoeval.scoring import Response, Verdict
from pytest_nemoeval.suite import HubDataset, Suite

__version__ = "0.1.0"

__all__ = [
    "HubDataset",
    "Response",
    "SampleOutcome",
    "Suite",
    "Verdict",
    "extract_choice_letter",
    "last_boxed",
    "last_code_block",
    "split_reasoning",
]
