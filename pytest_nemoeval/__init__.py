"""pytest-nemoeval: LLM benchmarks as pytest tests. The public API a suite module uses."""

from pytest_nemoeval.data import DataSource, HubConfigs, HubDataset
from pytest_nemoeval.engine.drivers import Chat
from pytest_nemoeval.errors import DataError, DriverError, EndpointDown, GenerationError, VerdictError
from pytest_nemoeval.extraction import (extract_choice_letter, extract_choice_letter_by, extract_math_answer,
                                        last_boxed, last_code_block, math_equal, split_reasoning)
from pytest_nemoeval.metrics import SampleOutcome
from pytest_nemoeval.report.curves import Curve
from pytest_nemoeval.scoring import Response, Verdict
from pytest_nemoeval.suite import Suite

__version__ = "0.1.0"

__all__ = [
    "Chat",
    "Curve",
    "DataError",
    "DataSource",
    "DriverError",
    "EndpointDown",
    "GenerationError",
    "HubConfigs",
    "HubDataset",
    "Response",
    "SampleOutcome",
    "Suite",
    "Verdict",
    "VerdictError",
    "extract_choice_letter",
    "extract_choice_letter_by",
    "extract_math_answer",
    "last_boxed",
    "last_code_block",
    "math_equal",
    "split_reasoning",
]
