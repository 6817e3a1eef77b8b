"""HLE's calibration error: how far the model's stated confidence is from its accuracy.

Computed like the official scorer (centerforaisafety/hle, hle_eval/run_judge_results.py, `calib_err` with
p=2, beta=100, after hendrycks/outlier-exposure): verdicts sorted by confidence, bins of 100, root of the
size-weighted mean squared gap. Like the official loop, the last bin (the one that takes the remainder) is
left out; with fewer than 100 verdicts, where the official code has no bin, all of them form one bin.
"""

from __future__ import annotations

from typing import Any

from pytest_nemoeval.metrics import SampleOutcome

BIN_SIZE = 100


def calibration_error(confidence: list[float], correct: list[bool], bin_size: int = BIN_SIZE) -> float:
    """Official `calib_err(confidence, correct, p='2', beta=bin_size)`; confidence in [0, 1]."""
    import numpy as np

    if not confidence:
        return 0.0
    order = np.argsort(np.array(confidence))  # numpy's default sort, as the official code: same bins on ties
    conf, hit = np.array(confidence)[order], np.array(correct, dtype=float)[order]
    total = len(conf)
    if total < bin_size:
        return float(abs(conf.mean() - hit.mean()))
    squared = 0.0
    for start in range(0, (total // bin_size - 1) * bin_size, bin_size):  # the official loop skips the last bin
        end = start + bin_size
        squared += bin_size / total * float(conf[start:end].mean() - hit[start:end].mean()) ** 2
    return squared ** 0.5


def metrics(outcomes: list[SampleOutcome], repeats: int) -> dict[str, Any]:
    """`calibration_error` of the judged verdicts' stated confidence."""
    verdicts = [inputs for outcome in outcomes for inputs in outcome.inputs if inputs and "confidence" in inputs]
    if not verdicts:
        return {}
    error = calibration_error([v["confidence"] / 100 for v in verdicts], [bool(v["correct"]) for v in verdicts])
    return {"calibration_error": {"value": error}}
