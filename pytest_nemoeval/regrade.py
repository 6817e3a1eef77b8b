"""`python -m pytest_nemoeval grade RESULTS_DIR [--set KEY=VALUE ...]`: grade the benchmarks a finished run left
unscored (a run-graded suite whose grader could not score it then, e.g. CritPt without its API key) from the
run's samples.jsonl, with the run's configuration (`--set` changes it, e.g. `--set critpt.api_key_env=VAR`), and
write the scores and the gate into its results.json."""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_nemoeval import aggregates
from pytest_nemoeval.config import RunConfig, apply_set
from pytest_nemoeval.errors import DriverError, Unscored
from pytest_nemoeval.gate import parse_threshold
from pytest_nemoeval.metrics import SampleOutcome, rounded
from pytest_nemoeval.results import UNGRADED_METRICS, write_atomic
from pytest_nemoeval.suite import load_suite_module


def outcomes_of(samples: Path) -> tuple[list[SampleOutcome], int]:
    """The run's outcomes rebuilt from samples.jsonl (samples in the order they first appear), and the repeats."""
    by_sample: dict[Any, dict[int, dict[str, Any]]] = {}
    for line in samples.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            by_sample.setdefault(json.dumps(row["sample_id"]), {})[row["repeat"]] = row
    outcomes = []
    for index, repeats in enumerate(by_sample.values()):
        rows = [repeats[repeat] for repeat in sorted(repeats)]
        outcomes.append(SampleOutcome(index, [bool(row.get("correct")) for row in rows],
                                      [row.get("extracted") for row in rows], [row.get("metric_inputs") for row in rows],
                                      [row.get("error", "error") if row.get("verdict") == "error" else None
                                       for row in rows]))
    return outcomes, max((len(outcome.correct) for outcome in outcomes), default=0)


def rescore(document: dict[str, Any], name: str, metrics: dict[str, Any]) -> list[str]:
    """Benchmark `name` scored: its metrics, its thresholds (INCONCLUSIVE while unscored) checked again, the
    gate's record updated; the messages of the thresholds that failed."""
    entry = document["benchmarks"][name]
    kept = {key: entry["metrics"][key] for key in UNGRADED_METRICS if key in entry["metrics"]}
    entry["metrics"] = rounded({**kept, **metrics})
    reason = entry.pop("unscored")
    entry.pop("suite_file", None)
    failures = []
    for check in entry.get("thresholds") or []:
        if not check.pop("unscored", False):
            continue
        threshold = parse_threshold(f"{name}.{check['metric']}{check['op']}{check['value']}", "results.json")
        value = entry["metrics"].get(threshold.metric, {}).get("value")
        check["passed"] = value is not None and threshold.holds(value)
        if not check["passed"]:
            shown = "not reported" if value is None else f"{value:.4f}"
            failures.append(f"{name}.{threshold.metric} = {shown}, required {threshold.op} {threshold.value:g}")
    gate = document["gate"]
    still = [message for message in gate.pop("inconclusive", []) if f"{name} is unscored ({reason})" not in message]
    if still:
        gate["inconclusive"] = still
    gate["failures"] = gate["failures"] + failures
    gate["passed"] = not gate["failures"]
    return failures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_nemoeval grade", description=__doc__)
    parser.add_argument("results_dir", metavar="RESULTS_DIR")
    parser.add_argument("--set", dest="assignments", action="append", default=[], metavar="KEY=VALUE",
                        help="change the run's configuration, e.g. critpt.api_key_env=MY_KEY_VAR")
    args = parser.parse_args(argv)
    directory = Path(args.results_dir)
    try:
        document = json.loads((directory / "results.json").read_text(encoding="utf-8"))
        tree = copy.deepcopy(document["config"])
        for assignment in args.assignments:
            apply_set(tree, assignment)
    except (OSError, ValueError, KeyError):
        print(f"ERROR: {directory} holds no finished run (no readable results.json)", file=sys.stderr)
        return 2
    except pytest.UsageError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    tree["results_dir"] = str(directory)
    run = RunConfig(tree=tree, thresholds=[])
    unscored = [name for name, entry in document["benchmarks"].items() if "unscored" in entry]
    if not unscored:
        print(f"nothing to grade: no benchmark in {directory / 'results.json'} is unscored")
        return 0
    status, failures = 0, []
    for name in unscored:
        entry = document["benchmarks"][name]
        try:
            grader = load_suite_module(entry["suite_file"]).suite.run_grader
            outcomes, repeats = outcomes_of(directory / name / "samples.jsonl")
            metrics = grader(outcomes, repeats, run)
        except (DriverError, OSError) as exc:
            print(f"ERROR: {name}: cannot grade ({exc})", file=sys.stderr)
            status = 1
            continue
        except Unscored as exc:
            print(f"ERROR: {name} is still unscored: {exc}", file=sys.stderr)
            status = 1
            continue
        failures += rescore(document, name, metrics)
        primary = entry["metrics"].get(entry["primary_metric"], {})
        print(f"{name}: {entry['primary_metric']} {primary.get('value', 0.0):.4f}")
    graded = [name for name in unscored if "unscored" not in document["benchmarks"][name]]
    failures += aggregates.regrade(document, graded)
    write_atomic(directory / "results.json", json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    for failure in failures:
        print(f"GATE FAILED: {failure}", file=sys.stderr)
    return 1 if failures else status
