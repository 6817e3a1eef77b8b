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
    """`calibration_error` of the verdicts' stated confidence; an item that errored is wrong at confidence 100
    (no answer, no hedge: nothing earns it a lower error)."""
    confidence: list[float] = []
    correct: list[bool] = []
    covered: set[int] = set()
    for outcome in outcomes:
        for repeat, inputs in enumerate(outcome.inputs):
            if outcome.errored(repeat):
                confidence.append(1.0)
                correct.append(False)
            elif inputs and "confidence" in inputs:
                confidence.append(inputs["confidence"] / 100)
                correct.append(bool(inputs["correct"]))
            else:
                continue
            covered.add(outcome.index)
    if not confidence:
        return {}
    return {"calibration_error": {"value": calibration_error(confidence, correct), "samples": len(covered)}}
