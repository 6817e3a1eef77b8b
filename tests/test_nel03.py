"""Interoperability with NeMo Evaluator 0.3, tested against its own code: runs exported with `--to nemo-evaluator`
are read by `nel compare`, `nel gate` and `nel report` (nemo-evaluator==0.3.0 in a Python >= 3.12 virtualenv this
test builds once and caches), which reach the verdicts this plugin's comparison reaches; and bundles NeMo
Evaluator's own artifacts.write_all wrote are read by `python -m pytest_nemoeval compare` and `--baseline`.

The virtualenv lives in ~/.cache/pytest-nemoeval/nel03-venv-<version> ($XDG_CACHE_HOME moves it); without a
Python >= 3.12 on the machine the test skips and says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import MMLU_DATA, ROOT, MockServer

NEL_VERSION = "0.3.0"
ROWS = [json.loads(line) for line in MMLU_DATA.read_text().splitlines()]
WRONG = {"A": "C", "B": "D", "C": "E", "D": "A", "E": "B", "F": "A", "G": "A", "H": "A", "I": "A", "J": "A"}
MAX_DROP = "0.01"  # this plugin's default max_drop, given to both tools
POLICY = "version: 1\ndefaults: {tier: critical, metric: pass@1, max_drop: 0.01}\n"


@pytest.fixture(scope="module")
def nel() -> Path:
    """The python of the cached virtualenv with nemo-evaluator (and scipy, which its McNemar needs), made as the
    plugin makes Harbor's (pytest_nemoeval/venvs.py)."""
    from pytest_nemoeval.errors import DataError
    from pytest_nemoeval.venvs import python312, venv_python

    if python312() is None:
        pytest.skip("NeMo Evaluator 0.3 needs Python 3.12 or 3.13 and none was found (python3.12 / python3.13 on PATH, "
                    "or under pyenv, that runs)")
    try:
        return venv_python(f"nel03-venv-{NEL_VERSION}", [f"nemo-evaluator=={NEL_VERSION}", "scipy"],
                           "NeMo Evaluator 0.3")
    except DataError as exc:
        pytest.fail(str(exc))


def run_nel(python: Path, *args: str) -> subprocess.CompletedProcess:
    program = "import sys; from nemo_evaluator.cli.main import cli; sys.exit(cli())"
    return subprocess.run([str(python), "-c", program, *args], capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")})


def run_ours(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(ROOT), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Three exported runs of MMLU-Pro's 20 example rows on the mock server: `base` all right, `same` all right
    again, `drop` all wrong; each has results.json and the NeMo Evaluator export under nemo-evaluator/."""
    root = tmp_path_factory.mktemp("nel03")
    (root / "suites").mkdir()
    shutil.copy(ROOT / "suites" / "test_mmlu_pro.py", root / "suites")
    (root / "data").mkdir()
    shutil.copy(MMLU_DATA, root / "data" / "mmlu_pro.jsonl")
    made = {}
    for name, letter in (("base", lambda row: row["answer"]), ("same", lambda row: row["answer"]),
                         ("drop", lambda row: WRONG[row["answer"]])):
        answers = root / f"{name}.json"
        answers.write_text(json.dumps([[row["question"], f"Answer: \\boxed{{{letter(row)}}}"] for row in ROWS]))
        server = MockServer(["--answers", str(answers)])
        try:
            done = run_ours(root, "pytest", "suites/", "-p", "no:cacheprovider", "--endpoint", server.url,
                            "--data-dir", "data", "--results-dir", name, "--export", "nemo-evaluator")
        finally:
            server.stop()
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        made[name] = root / name
    return made


def verdict_of(done: subprocess.CompletedProcess) -> dict:
    return json.loads(done.stdout)


@pytest.mark.parametrize("candidate, nel_compare, nel_gate, ours, status", [
    ("same", "PASS", "GO", "GO", 0),
    ("drop", "BLOCK", "NO-GO", "NO-GO", 1),
])
def test_nel_compare_and_gate_read_exported_runs_and_agree_with_ours(nel, runs, tmp_path, candidate, nel_compare,
                                                                    nel_gate, ours, status):
    base, cand = runs["base"] / "nemo-evaluator", runs[candidate] / "nemo-evaluator"
    compared = run_nel(nel, "compare", str(base), str(cand), "--max-drop", MAX_DROP, "--no-report",
                       "--format", "json")
    assert compared.returncode == status, compared.stderr[-2000:]
    report = json.loads(compared.stdout)
    assert report["verdict"] == nel_compare and report["test_used"] == "mcnemar"
    assert report["flip_report"]["summary"]["n_paired"] == 20
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    gated = run_nel(nel, "gate", str(base), str(cand), "--policy", str(policy), "--format", "json", "--no-report")
    assert gated.returncode == status, gated.stderr[-2000:]
    gate = json.loads(gated.stdout)
    (bench,) = gate["benchmarks"]
    assert gate["verdict"] == nel_gate and bench["benchmark"] == "mmlu_pro" and bench["n_paired"] == 20
    # ours, on the same two runs: their results directories, and their NeMo Evaluator exports
    mine = run_ours(tmp_path, "pytest_nemoeval", "compare", str(runs["base"]), str(runs[candidate]), "--format",
                    "json")
    exported = run_ours(tmp_path, "pytest_nemoeval", "compare", str(base), str(cand), "--format", "json")
    for done in (mine, exported):
        assert done.returncode == status, done.stderr
        entry = json.loads(done.stdout)["benchmarks"]["mmlu_pro"]
        assert entry["verdict"] == ours and entry["pairs"] == 20
        assert entry["delta"] == pytest.approx(bench["delta"]) and entry["delta"] == pytest.approx(report[
            "score_deltas"]["pass@1"]["delta"])
    assert json.loads(exported.stdout)["benchmarks"]["mmlu_pro"] == {
        **json.loads(mine.stdout)["benchmarks"]["mmlu_pro"]}


def test_nel_report_reads_an_exported_run(nel, runs):
    done = run_nel(nel, "report", str(runs["base"] / "nemo-evaluator"), "--format", "json")
    assert done.returncode == 0, done.stderr[-2000:]
    table = json.loads(done.stdout)
    ours = json.loads((runs["base"] / "results.json").read_text())["benchmarks"]["mmlu_pro"]
    row = table["benchmarks"]["mmlu_pro"]
    assert row["pass@1"]["value"] == pytest.approx(ours["metrics"]["pass@1"]["value"]) == 1.0
    assert (row["samples"], row["repeats"]) == (20, 1) and table["model"] == "mock-model"
    assert {name: group["n"] for name, group in row["categories"].items()} == {
        name: group["samples"] for name, group in ours["categories"]["by"].items()}


NEL_BUNDLE = """
import json, sys
from nemo_evaluator.engine.artifacts import build_artifact_bundle, write_all
rows = [json.loads(line) for line in open(sys.argv[1])]
results = [{"problem_idx": row["sample_id"], "repeat": row["repeat"], "reward": 1.0 if row["verdict"] == "correct"
            else 0.0, "metadata": {"category": row["category"]}} for row in rows]
bundle = build_artifact_bundle("mmlu_pro", results, {"pass@1": {"value": sum(r["reward"] for r in results) /
                               len(results)}}, {"benchmark": "mmlu_pro", "repeats": 1})
bundle["_results"] = results
print(write_all(bundle, sys.argv[2])["bundle"])
"""


def test_a_bundle_nemo_evaluator_wrote_is_a_baseline_for_ours(nel, runs, tmp_path):
    """NeMo Evaluator's own artifacts.write_all writes the baseline (from the `base` run's verdicts); ours reads it
    as a run directory, a benchmark directory or the bundle, offline and as --baseline."""
    made = subprocess.run([str(nel), "-c", NEL_BUNDLE, str(runs["base"] / "mmlu_pro" / "samples.jsonl"),
                           str(tmp_path / "nel-run" / "mmlu_pro")], capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr[-2000:]
    bundle = Path(made.stdout.strip().splitlines()[-1])
    for baseline, candidate, verdict, status in ((tmp_path / "nel-run", runs["same"], "GO", 0),
                                                 (bundle.parent, runs["drop"], "NO-GO", 1),
                                                 (bundle, runs["drop"] / "nemo-evaluator", "NO-GO", 1)):
        done = run_ours(tmp_path, "pytest_nemoeval", "compare", str(baseline), str(candidate), "--format", "json")
        assert done.returncode == status, done.stderr
        entry = json.loads(done.stdout)["benchmarks"]["mmlu_pro"]
        assert (entry["verdict"], entry["pairs"]) == (verdict, 20)
        assert "records no dataset fingerprint" in entry["note"]
    server = MockServer(["--answers", str(runs["same"].parent / "same.json")])
    try:
        gated = run_ours(runs["base"].parent, "pytest", "suites/", "-p", "no:cacheprovider", "--endpoint",
                         server.url, "--data-dir", "data", "--results-dir", str(tmp_path / "gated"), "--baseline",
                         str(bundle))
    finally:
        server.stop()
    assert gated.returncode == 0, gated.stdout[-2000:]
    comparison = json.loads((tmp_path / "gated" / "results.json").read_text())["comparison"]
    assert comparison["verdict"] == "GO" and comparison["benchmarks"]["mmlu_pro"]["pairs"] == 20
