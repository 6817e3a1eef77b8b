"""Comparison with a baseline run: in the run (--baseline) and offline (python -m pytest_nemoeval compare), on the
mock server, with every expected number derived by hand from the scripted answers."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from helpers import MMLU_DATA, ROOT, results

Z = 1.959963984540054
ROWS = [json.loads(line) for line in MMLU_DATA.read_text().splitlines()]


def run(bench: pytest.Pytester, mock, results_dir: str, *args: str) -> pytest.RunResult:
    return bench.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data",
                                      "--results-dir", results_dir, *args)


def compare(bench: pytest.Pytester, *args: str) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "pytest_nemoeval", "compare", *args], cwd=bench.path,
                          capture_output=True, text=True, env=env, timeout=120)


def scripted(bench: pytest.Pytester, letters: dict[int, str]) -> str:
    """An --answers file: the reply to sample `id` is \\boxed{letter} (others get the mock's default B)."""
    rules = [[row["question"], f"Answer: \\boxed{{{letters[row['question_id']]}}}"]
             for row in ROWS if row["question_id"] in letters]
    path = bench.path / "answers.json"
    path.write_text(json.dumps(rules))
    return str(path)


def by_hand(base: list[bool], cand: list[bool]) -> dict:
    """Delta, its 95 % CI and the exact McNemar p of one verdict per sample, from the definitions; the stderr
    clustered by the rows' categories (Miller 2024, eq. 4), which samples.jsonl carries."""
    diffs = [int(c) - int(b) for b, c in zip(base, cand)]
    n = len(diffs)
    mean = sum(diffs) / n
    residuals: dict[str, float] = {}
    for difference, row in zip(diffs, ROWS):
        residuals[row["category"]] = residuals.get(row["category"], 0.0) + difference - mean
    clusters = len(residuals)
    stderr = math.sqrt(clusters / (clusters - 1) * sum(total ** 2 for total in residuals.values())) / n
    worse, better = diffs.count(-1), diffs.count(1)
    p = min(1.0, 2 * sum(math.comb(worse + better, i) for i in range(min(worse, better) + 1)) / 2 ** (worse + better))
    return {"delta": mean, "ci95": [mean - Z * stderr, mean + Z * stderr], "worse": worse, "better": better, "p": p}


@pytest.mark.parametrize("xdist", [pytest.param([], id="no-xdist"), pytest.param(["-n", "2"], id="n2")])
def test_the_same_run_twice_is_go_with_delta_zero(bench, mock_server, xdist):
    mock = mock_server()
    assert run(bench, mock, "base", "--limit-samples", "12", *xdist).ret == 0
    result = run(bench, mock, "cand", "--limit-samples", "12", "--baseline", "base", *xdist)
    assert result.ret == 0
    entry = results(bench, "cand")["comparison"]["benchmarks"]["mmlu_pro"]
    expected = sum(row["answer"] == "B" for row in ROWS[:12]) / 12  # the mock answers B
    assert entry["baseline"] == entry["candidate"] == pytest.approx(expected)
    assert (entry["delta"], entry["ci95"], entry["pairs"]) == (0.0, [0.0, 0.0], 12)
    assert entry["flips"] == {"right_to_wrong": 0, "wrong_to_right": 0} and entry["mcnemar_p"] == 1.0
    assert entry["verdict"] == "GO" and results(bench, "cand")["comparison"]["verdict"] == "GO"
    result.stdout.fnmatch_lines(["mmlu_pro: accuracy *baseline * delta +0.0000 GO",
                                 "mmlu_pro [[]critical[]]: accuracy baseline * delta +0.0000 *verdict: GO"])
    offline = compare(bench, "base", "cand", "--format", "json")
    assert offline.returncode == 0, offline.stderr
    assert json.loads(offline.stdout)["benchmarks"] == results(bench, "cand")["comparison"]["benchmarks"]


@pytest.mark.parametrize("xdist", [pytest.param([], id="no-xdist"), pytest.param(["-n", "2"], id="n2")])
def test_flipped_answers_give_the_hand_computed_delta_flips_and_verdict(bench, mock_server, xdist):
    # candidate: right on 71-78 (the mock's B was wrong there), wrong on 70 (B was right); 83 and 89 stay B
    letters = {row["question_id"]: row["answer"] for row in ROWS[1:9]} | {70: "A"}
    default, better = mock_server(), mock_server("--answers", scripted(bench, letters))
    base = [row["answer"] == "B" for row in ROWS]
    cand = [letters.get(row["question_id"], "B") == row["answer"] for row in ROWS]
    gain = by_hand(base, cand)
    assert (gain["worse"], gain["better"]) == (1, 8) and gain["ci95"][0] > -0.01  # the scenario is a clear GO
    assert run(bench, default, "base", *xdist).ret == 0
    result = run(bench, better, "cand", "--baseline", "base", "--show-flips", *xdist)
    assert result.ret == 0
    entry = results(bench, "cand")["comparison"]["benchmarks"]["mmlu_pro"]
    assert entry["baseline"] == pytest.approx(sum(base) / 20) and entry["candidate"] == pytest.approx(sum(cand) / 20)
    assert entry["delta"] == pytest.approx(gain["delta"]) and entry["ci95"] == pytest.approx(gain["ci95"])
    assert entry["mcnemar_p"] == pytest.approx(gain["p"])
    assert entry["flips"]["right_to_wrong"] == 1 and entry["flips"]["wrong_to_right"] == 8
    assert entry["flips"]["ids"]["right_to_wrong"] == [[70, 0]]
    assert sorted(sample for sample, _ in entry["flips"]["ids"]["wrong_to_right"]) == list(range(71, 79))
    assert entry["verdict"] == "GO"
    result.stdout.fnmatch_lines(["  right->wrong: 70/r0"])

    # the other way round: the drop is a NO-GO of a critical benchmark, exit status 1, in the run and offline
    drop = by_hand(cand, base)
    assert drop["ci95"][1] < -0.01
    result = run(bench, default, "again", "--baseline", "cand", "--html", "report.html", *xdist)
    assert result.ret == 1
    html = (bench.path / "report.html").read_text()
    assert "nemoeval comparison with the baseline" in html and "verdict: NO-GO" in html
    result.stdout.fnmatch_lines([f"GATE FAILED: mmlu_pro: NO-GO against the baseline: accuracy delta "
                                 f"{drop['delta']:+.4f} (95% CI {drop['ci95'][0]:+.4f} to {drop['ci95'][1]:+.4f}), "
                                 f"max drop 0.01"])
    entry = results(bench, "again")["comparison"]["benchmarks"]["mmlu_pro"]
    assert entry["delta"] == pytest.approx(drop["delta"]) and entry["ci95"] == pytest.approx(drop["ci95"])
    assert (entry["flips"]["right_to_wrong"], entry["flips"]["wrong_to_right"], entry["verdict"]) == (8, 1, "NO-GO")
    assert results(bench, "again")["gate"]["passed"] is False
    offline = compare(bench, "cand", "again", "--format", "json")
    assert offline.returncode == 1
    assert json.loads(offline.stdout)["benchmarks"] == results(bench, "again")["comparison"]["benchmarks"]
    text = compare(bench, "cand", "again")
    assert text.returncode == 1 and "verdict: NO-GO" in text.stdout
    report = compare(bench, "cand", "again", "--format", "markdown").stdout
    assert report.startswith("## Regression report: **NO-GO**")
    assert f"| mmlu_pro | critical | accuracy | {sum(cand) / 20:.4f} | {sum(base) / 20:.4f} | {drop['delta']:+.4f} |" \
        in report
    # a policy that allows the drop, or does not let this benchmark decide
    assert compare(bench, "cand", "again", "--max-drop", "0.9").returncode == 0
    policy = bench.path / "policy.yaml"
    policy.write_text("benchmarks:\n  mmlu_pro:\n    gate: {tier: advisory}\n")
    assert compare(bench, "cand", "again", "--policy", str(policy)).returncode == 0
    # the same policy in the run's recipe, with the baseline a recipe key too: shown, recorded, not gating
    policy.write_text("baseline: cand\nbenchmarks:\n  mmlu_pro:\n    gate: {tier: supporting}\n")
    result = run(bench, default, "advised", "--recipe", str(policy), *xdist)
    assert result.ret == 0
    entry = results(bench, "advised")["comparison"]["benchmarks"]["mmlu_pro"]
    assert (entry["tier"], entry["verdict"]) == ("supporting", "NO-GO")
    result.stdout.fnmatch_lines(["GATE WARNING: mmlu_pro: NO-GO against the baseline: accuracy delta *"])
    assert "GATE FAILED" not in result.stdout.str()


def test_two_samples_are_insufficient(bench, mock_server):
    mock = mock_server()
    assert run(bench, mock, "base", "--limit-samples", "2").ret == 0
    result = run(bench, mock, "cand", "--limit-samples", "2", "--baseline", "base")
    assert result.ret == 6  # INCONCLUSIVE's own status
    assert results(bench, "cand")["comparison"]["benchmarks"]["mmlu_pro"]["verdict"] == "INSUFFICIENT"
    result.stdout.fnmatch_lines(["*verdict: INSUFFICIENT (fewer than 10 paired samples)",
                                 "GATE INCONCLUSIVE: mmlu_pro: INSUFFICIENT against the baseline*"])
    assert run(bench, mock, "cand", "--limit-samples", "2", "--baseline", "base", "--inconclusive", "pass").ret == 0
    assert run(bench, mock, "cand", "--limit-samples", "2", "--baseline", "base", "--inconclusive", "fail").ret == 1
    assert compare(bench, "base", "cand").returncode == 6
    assert compare(bench, "base", "cand", "--inconclusive", "pass").returncode == 0


def test_noisy_delta_is_inconclusive_with_the_samples_that_would_decide_it(bench, mock_server):
    # candidate: right on 71 and 72, wrong on 70: differences +1, +1, -1 and 17 zeros
    letters = {71: "D", 72: "C", 70: "A"}
    default, other = mock_server(), mock_server("--answers", scripted(bench, letters))
    base = [row["answer"] == "B" for row in ROWS]
    cand = [letters.get(row["question_id"], "B") == row["answer"] for row in ROWS]
    hand = by_hand(base, cand)
    assert hand["ci95"][0] <= -0.01 <= hand["ci95"][1]
    sd = math.sqrt(20) * (hand["ci95"][1] - hand["delta"]) / Z
    needed = math.ceil((Z * sd / (hand["delta"] + 0.01)) ** 2)
    assert run(bench, default, "base").ret == 0
    result = run(bench, other, "cand", "--baseline", "base")
    assert result.ret == 6
    entry = results(bench, "cand")["comparison"]["benchmarks"]["mmlu_pro"]
    assert entry["verdict"] == "INCONCLUSIVE" and entry["samples_needed"] == needed
    result.stdout.fnmatch_lines([f"*verdict: INCONCLUSIVE (about {needed} samples at the observed variance would "
                                 f"decide it; {needed - 20} more*"])


def test_a_changed_prompt_or_generation_setting_is_not_comparable(bench, mock_server):
    mock = mock_server()
    assert run(bench, mock, "base", "--limit-samples", "10").ret == 0
    result = run(bench, mock, "cand", "--limit-samples", "10", "--baseline", "base",
                 "--set", "generation.system_prompt=Think step by step.")
    assert result.ret == 6
    entry = results(bench, "cand")["comparison"]["benchmarks"]["mmlu_pro"]
    assert entry["comparable"] is False and entry["verdict"] == "NOT COMPARABLE"
    assert "dataset prompts_sha256" in entry["reason"] and "generation.system_prompt None != 'Think step by step.'" \
        in entry["reason"] and "rows_sha256" not in entry["reason"]
    result.stdout.fnmatch_lines(["mmlu_pro [[]critical[]]: NOT COMPARABLE: dataset prompts_sha256 *"])
    result = run(bench, mock, "temp", "--limit-samples", "10", "--baseline", "base", "--set",
                 "generation.temperature=0.5")
    reason = results(bench, "temp")["comparison"]["benchmarks"]["mmlu_pro"]["reason"]
    assert reason == "generation.temperature 0.0 != 0.5"
    result = run(bench, mock, "more", "--limit-samples", "12", "--baseline", "base")
    assert "dataset rows_sha256" in results(bench, "more")["comparison"]["benchmarks"]["mmlu_pro"]["reason"]


@pytest.mark.parametrize("args,message", [
    (["--baseline", "nowhere"], "ERROR: --baseline nowhere: no such directory*"),
    (["--baseline", "data"], "ERROR: --baseline data: no results.json there*"),
    (["--baseline", "data", "--max-drop", "2"], "ERROR: --max-drop must be a fraction in [[]0, 1[]]*got '2'"),
    (["--inconclusive", "maybe"], "ERROR: --inconclusive must be one of status, pass, fail, got 'maybe'"),
    (["--gate-on", "mean"], "ERROR: --gate-on must be one of point, ci, got 'mean'"),
    (["--correction", "bonferroni"], "ERROR: --correction must be one of holm, none, got 'bonferroni'"),
    (["--recipe", "cost.yaml"], "ERROR: recipe cost.yaml: benchmarks.mmlu_pro.gate.max_tokens_increase must be a "
                                "fraction >= 0 *got -0.1"),
    (["--recipe", "tier.yaml"], "ERROR: recipe tier.yaml: benchmarks.mmlu_pro.gate.tier: unknown tier 'vital' *"),
])
def test_bad_comparison_options_are_one_usage_error_line(bench, args, message):
    (bench.path / "tier.yaml").write_text("benchmarks:\n  mmlu_pro:\n    gate: {tier: vital}\n")
    (bench.path / "cost.yaml").write_text("benchmarks:\n  mmlu_pro:\n    gate: {max_tokens_increase: -0.1}\n")
    result = bench.runpytest_subprocess("suites/", "--endpoint", "http://127.0.0.1:9/v1", "--data-dir", "data", *args)
    assert result.ret == 4
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stderr.str()


def test_compare_command_usage_errors(bench):
    missing = compare(bench, "nowhere", "data")
    assert missing.returncode == 4 and missing.stderr.startswith("ERROR: baseline")
    assert "no such directory" in missing.stderr and "Traceback" not in missing.stderr
    no_results = compare(bench, "data", "data")
    assert no_results.returncode == 4 and "no results.json there" in no_results.stderr
    bad_drop = compare(bench, "data", "data", "--max-drop", "-1")
    assert bad_drop.returncode == 4 and "--max-drop must be a fraction" in bad_drop.stderr


@pytest.mark.parametrize("threshold,gate_on,status", [
    ("mmlu_pro.accuracy>=0.05", "point", 0),  # 0.1 >= 0.05
    ("mmlu_pro.accuracy>=0.05", "ci", 6),  # CI [0, 0.296] straddles 0.05
    ("mmlu_pro.accuracy>=0.5", "ci", 1),  # the whole CI is below 0.5
    ("mmlu_pro.accuracy<=0.5", "ci", 0),  # the whole CI is at most 0.5
    ("mmlu_pro.accuracy<=0.05", "ci", 6),
])
def test_gate_on_ci(bench, mock_server, threshold, gate_on, status):
    mock = mock_server()  # 1 of the first 10 is B: accuracy 0.1, stderr 0.1, CI [0, 0.296]
    result = run(bench, mock, "results", "--limit-samples", "10", "--threshold", threshold, "--gate-on", gate_on)
    assert result.ret == status
    check = results(bench)["benchmarks"]["mmlu_pro"]["thresholds"][0]
    assert check["passed"] is {0: True, 1: False, 6: None}[status]
    if status == 6:
        result.stdout.fnmatch_lines(["GATE INCONCLUSIVE: mmlu_pro.accuracy = 0.1000 *the CI straddles*"])
