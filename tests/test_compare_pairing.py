"""Pairing two result dirs (pure logic, on hand-written samples.jsonl): repeats averaged per sample, errors count
as wrong, a changed prompt or setting makes a benchmark not comparable."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pytest_nemoeval.compare.policy import BenchmarkPolicy, PolicyError, parse_gate
from pytest_nemoeval.compare.report import compare_runs, markdown
from pytest_nemoeval.compare.runs import read_run
from pytest_nemoeval.compare.stats import Z95

ENTRY = {"primary_metric": "accuracy", "dataset": {"rows_sha256": "r", "prompts_sha256": "p"},
         "generation": {"temperature": 0.0}}


def write_run(directory: Path, rows: list[dict], entry: dict | None = None) -> Path:
    (directory / "bench").mkdir(parents=True)
    (directory / "results.json").write_text(json.dumps({"benchmarks": {"bench": entry or ENTRY}}))
    (directory / "bench" / "samples.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return directory


def rows(verdicts: dict[tuple[int, int], str], prompt: str = "h") -> list[dict]:
    return [{"sample_id": sample, "repeat": repeat, "prompt_hash": prompt, "verdict": verdict}
            | ({"error": "boom", "prompt_hash": None} if verdict == "error" else {})
            for (sample, repeat), verdict in verdicts.items()]


def run_compare(base: Path, cand: Path, policy: dict | None = None, max_drop: float = 0.01) -> dict:
    return compare_runs(read_run(base, "baseline"), read_run(cand, "candidate"), policy or {}, max_drop, "status",
                        True)


def test_repeats_are_averaged_per_sample_and_errors_count_as_wrong(tmp_path):
    # 12 samples x 2 repeats; baseline all correct; candidate: sample 0 one repeat errored, sample 1 both wrong
    base = {(s, r): "correct" for s in range(12) for r in range(2)}
    cand = dict(base) | {(0, 1): "error", (1, 0): "incorrect", (1, 1): "incorrect"}
    result = run_compare(write_run(tmp_path / "a", rows(base)), write_run(tmp_path / "b", rows(cand)))
    entry = result["benchmarks"]["bench"]
    diffs = [-0.5, -1.0] + [0.0] * 10  # per-sample means of the repeats
    mean = sum(diffs) / 12
    stderr = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 11 / 12)
    assert entry["pairs"] == 12 and entry["paired_items"] == 24
    assert entry["delta"] == pytest.approx(mean) and entry["ci95"] == pytest.approx(
        [mean - Z95 * stderr, mean + Z95 * stderr])
    assert entry["flips"]["right_to_wrong"] == 3 and entry["flips"]["ids"]["right_to_wrong"] == [[0, 1], [1, 0], [1, 1]]
    assert entry["mcnemar_p"] is None  # two verdicts per sample: no McNemar
    assert mean - Z95 * stderr < -0.01 < mean + Z95 * stderr  # the interval straddles -max_drop
    assert entry["verdict"] == "INCONCLUSIVE" and result["exit_status"] == 6
    needed = math.ceil((Z95 * stderr * math.sqrt(12) / (mean + 0.01)) ** 2)
    assert entry["samples_needed"] == needed


def test_a_pair_whose_prompt_differs_makes_the_benchmark_not_comparable(tmp_path):
    base = rows({(s, 0): "correct" for s in range(12)})
    cand = [dict(row) for row in base]
    cand[4]["prompt_hash"] = "other"
    result = run_compare(write_run(tmp_path / "a", base), write_run(tmp_path / "b", cand))
    entry = result["benchmarks"]["bench"]
    assert entry["verdict"] == "NOT COMPARABLE" and result["exit_status"] == 6
    assert entry["reason"] == "the prompt of 1 paired item(s) differs (first: sample 4 repeat 0)"
    assert "not comparable: the prompt of 1 paired item(s)" in markdown(result)


def test_unpaired_items_are_counted_and_left_out(tmp_path):
    base = rows({(s, 0): "correct" for s in range(14)})
    cand = rows({(s, 0): "correct" for s in range(2, 16)})
    entry = run_compare(write_run(tmp_path / "a", base), write_run(tmp_path / "b", cand))["benchmarks"]["bench"]
    assert entry["pairs"] == 12 and entry["unpaired"] == {"baseline": 2, "candidate": 2}


def test_policy_metric_direction_and_a_metric_without_per_sample_form(tmp_path):
    base = rows({(s, 0): "correct" for s in range(12)})
    cand = rows({(s, 0): "incorrect" if s == 0 else "correct" for s in range(12)})
    a, b = write_run(tmp_path / "a", base), write_run(tmp_path / "b", cand)
    strict = run_compare(a, b)["benchmarks"]["bench"]
    assert strict["verdict"] == "INCONCLUSIVE"  # delta -1/12, CI about [-0.25, +0.08]
    relaxed = run_compare(a, b, {"bench": parse_gate({"max_drop": 0.3, "metric": "overall"}, "gate")})
    entry = relaxed["benchmarks"]["bench"]
    assert entry["verdict"] == "GO" and entry["metric"] == "pass@1"
    assert "overall has no per-sample form" in entry["note"]
    # half the samples fall: CI [-0.80, -0.20] is a NO-GO; where lower is better its mirror [0.20, 0.80] is a GO
    fall = rows({(s, 0): "incorrect" if s < 6 else "correct" for s in range(12)})
    c = write_run(tmp_path / "c", fall)
    assert run_compare(a, c)["benchmarks"]["bench"]["verdict"] == "NO-GO"
    lower = run_compare(a, c, {"bench": parse_gate({"direction": "lower"}, "gate")})
    assert lower["benchmarks"]["bench"]["verdict"] == "GO" and lower["exit_status"] == 0
    assert run_compare(a, b, {"bench": BenchmarkPolicy(tier="supporting")})["exit_status"] == 0


@pytest.mark.parametrize("section,message", [
    ({"tier": "vital"}, "gate.tier: unknown tier 'vital'"),
    ({"direction": "up"}, "gate.direction: 'up', expected higher or lower"),
    ({"max_drop": 5}, "gate.max_drop must be a fraction in [0, 1]"),
    ({"maxdrop": 0.1}, "gate: unknown key 'maxdrop'"),
])
def test_bad_policy(section, message):
    with pytest.raises(PolicyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_gate(section, "gate")
