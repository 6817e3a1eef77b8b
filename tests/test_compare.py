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
    """Delta, its 95 % CI and the exact McNemar p of one verdict per sample, from the definitions."""
    diffs = [int(c) - int(b) for b, c in zip(base, cand)]
    n = len(diffs)
    mean = sum(diffs) / n
    stderr = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1) / n)
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
