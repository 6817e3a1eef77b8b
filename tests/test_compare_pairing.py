"""Pairing two result dirs (pure logic, on hand-written samples.jsonl): repeats averaged per sample, errors count
as wrong, a changed prompt or setting makes a benchmark not comparable."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pytest_nemoeval.compare.policy import BenchmarkPolicy, PolicyError, parse_gate
from pytest_nemoeval.compare.report import compare_runs, comparison_failures, markdown
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
    ({"max_relative_drop": -0.1}, "gate.max_relative_drop must be a fraction in [0, 1]"),
])
def test_bad_policy(section, message):
    with pytest.raises(PolicyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_gate(section, "gate")


def write_runs(directory: Path, benchmarks: dict[str, list[dict]]) -> Path:
    directory.mkdir(parents=True)
    (directory / "results.json").write_text(json.dumps({"benchmarks": {name: ENTRY for name in benchmarks}}))
    for name, items in benchmarks.items():
        (directory / name).mkdir()
        (directory / name / "samples.jsonl").write_text("".join(json.dumps(row) + "\n" for row in items))
    return directory


def test_a_benchmark_new_in_the_candidate_is_reported_not_gated(tmp_path):
    same = rows({(s, 0): "correct" for s in range(12)})
    result = compare_runs(read_run(write_runs(tmp_path / "a", {"old": same}), "baseline"),
                          read_run(write_runs(tmp_path / "b", {"old": same, "added": same}), "candidate"), {}, 0.01,
                          "status")
    assert result["benchmarks"]["added"]["verdict"] == "NEW" and result["benchmarks"]["old"]["verdict"] == "GO"
    assert (result["verdict"], result["exit_status"]) == ("GO", 0) and comparison_failures(result) == []
    assert "| added | critical |" in markdown(result) and "- added: new: not in the baseline run" in markdown(result)


def test_holm_across_the_critical_tier(tmp_path):
    # three critical benchmarks: "clear" falls on 8 of 20 samples, "edge1" and "edge2" on 4 of 20 each
    names = ("clear", "edge1", "edge2")
    base = {name: rows({(s, 0): "correct" for s in range(20)}) for name in names}
    cand = {name: rows({(s, 0): "incorrect" if s < (8 if name == "clear" else 4) else "correct" for s in range(20)})
            for name in names}
    a, b = read_run(write_runs(tmp_path / "a", base), "baseline"), read_run(write_runs(tmp_path / "b", cand), "c")
    alone = compare_runs(a, b, {}, 0.01, "status", correction="none")
    assert [alone["benchmarks"][name]["verdict"] for name in names] == ["NO-GO"] * 3
    p = {name: alone["benchmarks"][name]["regression_p"] for name in names}
    n, mean = 20, -4 / 20  # edge: by hand, the normal tail of (mean + max_drop) / se
    se = math.sqrt((4 * (1 + mean) ** 2 + 16 * mean ** 2) / (n - 1) / n)
    assert p["edge1"] == p["edge2"] == pytest.approx(0.5 * math.erfc(-(mean + 0.01) / se / math.sqrt(2)))
    assert 0.0125 < p["edge1"] < 0.025 and 3 * p["clear"] < 0.025
    corrected = compare_runs(a, b, {}, 0.01, "status")
    for name in ("edge1", "edge2"):  # Holm: 3 * p_clear rejects, then 2 * p_edge >= 0.025 stops
        entry = corrected["benchmarks"][name]
        assert entry["regression_p_holm"] == pytest.approx(2 * p[name])
        assert entry["verdict"] == "INCONCLUSIVE" and "Holm's correction across 3 critical" in entry["verdict_reason"]
    assert corrected["benchmarks"]["clear"]["regression_p_holm"] == pytest.approx(3 * p["clear"])
    assert corrected["benchmarks"]["clear"]["verdict"] == "NO-GO" and corrected["exit_status"] == 1
    assert corrected["correction"] == {"method": "holm", "family": 3}
    # the supporting tier is outside the family: with "clear" and "edge2" supporting, edge1 alone is a NO-GO again
    policy = {name: BenchmarkPolicy(tier="supporting") for name in ("clear", "edge2")}
    supporting = compare_runs(a, b, policy, 0.01, "status")
    assert supporting["benchmarks"]["edge1"]["verdict"] == "NO-GO" and supporting["correction"]["family"] == 1


def test_max_relative_drop(tmp_path):
    # baseline 10 of 20 right, candidate 9: delta -0.05 inside max_drop 0.2 (GO), a relative drop of 10 %
    base = rows({(s, 0): "correct" if s < 10 else "incorrect" for s in range(20)})
    cand = rows({(s, 0): "correct" if s < 9 else "incorrect" for s in range(20)})
    a, b = write_run(tmp_path / "a", base), write_run(tmp_path / "b", cand)
    assert run_compare(a, b, max_drop=0.2)["benchmarks"]["bench"]["verdict"] == "GO"
    tight = run_compare(a, b, {"bench": parse_gate({"max_drop": 0.2, "max_relative_drop": 0.05}, "gate")})
    entry = tight["benchmarks"]["bench"]
    assert entry["relative_drop"] == pytest.approx(0.1) and entry["verdict"] == "NO-GO"
    assert entry["verdict_reason"] == "relative drop 10.0% > max_relative_drop 5.0%" and tight["exit_status"] == 1
    loose = run_compare(a, b, {"bench": parse_gate({"max_drop": 0.2, "max_relative_drop": 0.2}, "gate")})
    assert loose["benchmarks"]["bench"]["verdict"] == "GO"


def test_repeats_get_a_sign_flip_test_and_the_minimum_detectable_effect(tmp_path):
    base = rows({(s, r): "correct" for s in range(12) for r in range(2)})
    cand = rows({(s, r): "incorrect" if s < 3 and r == 0 else "correct" for s in range(12) for r in range(2)})
    entry = run_compare(write_run(tmp_path / "a", base), write_run(tmp_path / "b", cand))["benchmarks"]["bench"]
    assert entry["mcnemar_p"] is None and entry["change_test"].startswith("sign-flip permutation")
    assert entry["change_p"] == pytest.approx(2 / 8)  # three -0.5s, 2 of the 2^3 sign patterns reach |sum| 1.5
    assert entry["mde80"] == pytest.approx(2.8016 * entry["stderr"], rel=1e-4)


def test_a_ratio_metric_is_compared_on_its_per_sample_form(tmp_path):
    # SciCode-like: metric subtask = sum(passed) / sum(steps); 12 problems x 2 repeats, 3 steps each
    entry = {**ENTRY, "primary_metric": "subtask", "per_sample": {"subtask": ["passed", "steps"]}}
    base_passed = {(s, r): (s + r) % 4 for s in range(12) for r in range(2)}  # 0..3 of 3 steps
    base_passed = {key: min(3, value) for key, value in base_passed.items()}
    cand_passed = {key: max(0, value - (key[0] % 3 == 0)) for key, value in base_passed.items()}

    def ratio_rows(passed: dict, errored: tuple = ()) -> list[dict]:
        return [{"sample_id": s, "repeat": r, "prompt_hash": "h", "metric_inputs": {"passed": p, "steps": 3}}
                | ({"verdict": "error", "error": "HTTP 500"} if (s, r) in errored else
                   {"verdict": "correct" if p == 3 else "incorrect"}) for (s, r), p in passed.items()]

    a = write_run(tmp_path / "a", ratio_rows(base_passed), entry)
    b = write_run(tmp_path / "b", ratio_rows(cand_passed, errored=((5, 1),)), entry)
    result = run_compare(a, b)["benchmarks"]["bench"]
    cand_passed[(5, 1)] = 0  # the errored repeat passed none of its 3 steps
    y_b = [base_passed[(s, 0)] + base_passed[(s, 1)] for s in range(12)]
    y_c = [cand_passed[(s, 0)] + cand_passed[(s, 1)] for s in range(12)]
    r_b, r_c = sum(y_b) / 72, sum(y_c) / 72  # 6 steps per problem
    d = [((yc - r_c * 6) - (yb - r_b * 6)) / 6 for yb, yc in zip(y_b, y_c)]
    stderr = math.sqrt(sum(x * x for x in d) / 11 / 12)  # mean(d) is 0
    assert result["metric"] == "subtask" and "note" not in result
    assert (result["baseline"], result["candidate"]) == (pytest.approx(r_b), pytest.approx(r_c))
    assert result["delta"] == pytest.approx(r_c - r_b) and result["stderr"] == pytest.approx(stderr)
    assert result["mcnemar_p"] is None and result["change_test"].startswith("sign-flip")
    # one run alone: the linearized stderr is metrics.ratio_summary's
    from pytest_nemoeval.metrics import ratio_summary
    one = ratio_summary([float(y) for y in y_c], [6.0] * 12)
    z = [(y - r_c * 6) / 6 for y in y_c]
    assert one["stderr"] == pytest.approx(math.sqrt(sum(x * x for x in z) / 11 / 12))


def test_a_metric_whose_per_sample_form_is_the_verdict_keeps_its_name(tmp_path):
    entry = {**ENTRY, "primary_metric": "prompt_loose", "per_sample": {"prompt_loose": "verdict"}}
    same = rows({(s, 0): "correct" for s in range(12)})
    result = run_compare(write_run(tmp_path / "a", same, entry), write_run(tmp_path / "b", same, entry))
    assert result["benchmarks"]["bench"]["metric"] == "prompt_loose" and "note" not in result["benchmarks"]["bench"]


def test_cost_and_latency_gates(tmp_path):
    # the same verdicts; the candidate thinks longer: 130 tokens per item against 100, p95 latency 2.0 s against 1.9
    base = [row | {"tokens": 100, "latency": 1.0 + s / 10} for s, row in enumerate(
        rows({(s, 0): "correct" for s in range(20)}))]
    cand = [row | {"tokens": 130, "latency": 1.1 + s / 10} for s, row in enumerate(
        rows({(s, 0): "correct" for s in range(20)}))]
    a, b = write_run(tmp_path / "a", base), write_run(tmp_path / "b", cand)
    free = run_compare(a, b)["benchmarks"]["bench"]
    assert free["verdict"] == "GO"
    assert free["cost"]["tokens_per_item"] == {"baseline": 100.0, "candidate": 130.0, "change": pytest.approx(0.3),
                                               "limit": None}
    # nearest rank: the 19th of 20 latencies, 1.0 + 18/10 and 1.1 + 18/10
    assert free["cost"]["latency_p95"]["baseline"] == pytest.approx(2.8)
    assert free["cost"]["latency_p95"]["change"] == pytest.approx(2.9 / 2.8 - 1)
    gated = run_compare(a, b, {"bench": parse_gate({"max_tokens_increase": 0.1, "max_latency_p95_increase": 0.5},
                                                   "gate")})
    entry = gated["benchmarks"]["bench"]
    assert entry["verdict"] == "NO-GO" and gated["exit_status"] == 1
    assert entry["verdict_reason"] == "tokens per item +30.0% > 10% more than the baseline"
    assert run_compare(a, b, {"bench": parse_gate({"max_tokens_increase": 0.35}, "gate")})["exit_status"] == 0
    with pytest.raises(PolicyError, match="max_tokens_increase must be a fraction >= 0"):
        parse_gate({"max_tokens_increase": "lots"}, "gate")


@pytest.mark.parametrize("latency", [0.0042, 0.0049, 0.1 + 0.2, 1.23456789, 12.5])
def test_a_run_and_its_nemo_evaluator_export_give_the_same_latencies(tmp_path, latency):
    # the export keeps 0.1 ms (latency_ms, one decimal); 4.2 / 1000 is 0.004200000000000001 in floating point, so
    # the two readings of one run agree only if both keep the same 0.1 ms
    from pytest_nemoeval.compare.runs import _item, _nel_item
    from pytest_nemoeval.export.nemo_evaluator import result_rows

    row = {"sample_id": 3, "repeat": 0, "prompt_hash": "h", "verdict": "correct", "tokens": 5, "latency": latency}
    samples = tmp_path / "samples.jsonl"
    samples.write_text(json.dumps(row) + "\n")
    (exported,) = result_rows(samples)
    assert _nel_item(exported).latency == _item(row, None).latency == round(latency, 4)


def test_a_weighted_overall_is_compared_entry_by_entry_with_its_category_weights(tmp_path):
    # BFCL-like: overall = 0.75 * mean(a) + 0.25 * mean(b); category a has 4 entries, b 12. The candidate loses
    # 2 entries of a (-0.375 overall) and gains 2 of b (+0.0417): the overall drops 0.333, not the pass@1's 0
    from pytest_nemoeval.compare.report import compare_benchmark

    weights = {"a": 0.75, "b": 0.25}
    entry = {**ENTRY, "primary_metric": "overall", "per_sample": {"overall": "category_weights"},
             "metrics": {"overall": {"value": 0.0, "category_weights": weights}}}
    def run(directory, wrong):
        rows_ = [{"sample_id": s, "repeat": 0, "prompt_hash": "h", "category": "a" if s < 4 else "b",
                  "verdict": "incorrect" if s in wrong else "correct"} for s in range(16)]
        return write_run(directory, rows_, entry)
    base = read_run(run(tmp_path / "a", wrong={4, 5}), "baseline")
    cand = read_run(run(tmp_path / "b", wrong={0, 1}), "candidate")
    result = compare_benchmark("bench", base, cand, BenchmarkPolicy(), 0.01, False)
    assert result["metric"] == "overall" and "note" not in result
    assert result["baseline"] == pytest.approx(0.75 + 0.25 * 10 / 12)
    assert result["candidate"] == pytest.approx(0.75 * 2 / 4 + 0.25)
    assert result["delta"] == pytest.approx(-0.375 + 0.25 * 2 / 12)
    assert result["mcnemar_p"] is None  # flips of unequal weight: the permutation test instead
    # other categories on one side: their weights differ, the comparison falls back to pass@1 with a note
    other = {**entry, "metrics": {"overall": {"value": 0.0, "category_weights": {"a": 0.5, "b": 0.5}}}}
    cand_other = read_run(write_run(tmp_path / "c", [], other), "candidate")
    assert compare_benchmark("bench", base, cand_other, BenchmarkPolicy(), 0.01, False)["metric"] == "pass@1"
