"""`python -m pytest_nemoeval merge DIR... --into OUT`: the results directories of the N jobs of a split run
(`--shard K/N`) become the results directory of the run done in one piece.

The tallies are rebuilt from the jobs' samples.jsonl rows (each row holds what its tally needs), and results.json
is written by the code that writes a run's (ResultsDocument.write): the same metrics, categories, intervals,
gate and baseline comparison. The merge refuses, one line each, jobs of different configurations, selections,
data or models, a part given twice or missing, and a job that did not run all its items (unless
--allow-incomplete). What differs per job (endpoint, deployment, times) is listed in OUT/shards.json.
"""

from __future__ import annotations

import argparse
import copy
import html
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_nemoeval import flock
from pytest_nemoeval.results import BenchmarkTally, ResultsCollector, ResultsDocument, write_atomic

USAGE_ERROR = 4  # as pytest's
# settings that may differ from job to job: they change how a job ran, not what it computed
PER_JOB = ("shard", "results_dir", "endpoint", "parallelism", "sandbox_workers", "judge.parallelism",
           "deployment.timeout")
SAME_PER_BENCHMARK = ("primary_metric", "repeats", "dataset", "generation", "scoring")


class MergeError(Exception):
    """One line: why these directories cannot be merged, and what to do."""


@dataclass
class Job:
    path: Path
    document: dict[str, Any]

    @property
    def shard(self) -> dict[str, Any]:
        return self.document["shard"]

    @property
    def name(self) -> str:
        return f"shard {self.shard['index']}/{self.shard['count']} ({self.path})"

    def incomplete(self) -> list[str]:
        """Per benchmark, how much of its part this job ran, where it ran less than all."""
        planned = self.shard.get("items")
        if planned is None:
            return ["its part is unknown (a worker of it died)"]
        if self.shard.get("stopped"):
            return [f"it stopped early: {self.shard['stopped']}"]
        done = {name: entry["items"] + entry["skipped"] for name, entry in self.document["benchmarks"].items()}
        for name, skipped in self.shard["skipped"].items():
            done.setdefault(name, skipped["items"])  # a benchmark whose items here were all skipped
        return [f"{name} ran {done.get(name, 0)} of {number} items" for name, number in planned.items()
                if done.get(name, 0) < number]


def read_job(path: Path) -> Job:
    results = path / "results.json"
    if not results.is_file():
        raise MergeError(f"{path}: no results.json: the job did not finish (interrupted, or it failed before "
                         "the end); rerun it with the same command (its cache keeps what was answered)")
    try:
        document = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MergeError(f"{results}: not readable as JSON ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("shard"), dict):
        raise MergeError(f"{path}: not a job of a split run (its results.json has no `shard`): run each job with "
                         "--shard K/N")
    return Job(path, document)


def _setting(config: dict[str, Any], key: str) -> Any:
    section, _, name = key.rpartition(".")
    node = config.get(section) if section else config
    return node.get(name) if isinstance(node, dict) else None


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    kept = copy.deepcopy(config)
    for key in PER_JOB:
        section, _, name = key.rpartition(".")
        node = kept.get(section) if section else kept
        if isinstance(node, dict):
            node.pop(name, None)
    return kept


def _first_difference(left: Any, right: Any, prefix: str = "") -> str:
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(set(left) | set(right), key=str):
            if left.get(key) != right.get(key):
                return _first_difference(left.get(key), right.get(key), f"{prefix}{key}.")
    return f"{prefix.rstrip('.')} is {left!r} in one and {right!r} in the other"


def check(jobs: list[Job], allow_incomplete: bool) -> list[str]:
    """Refuse what cannot be merged (MergeError); the warnings of an incomplete merge that was asked for."""
    first = jobs[0]
    for job in jobs[1:]:
        if job.shard["count"] != first.shard["count"]:
            raise MergeError(f"{job.name} and {first.name} split the run into different numbers of jobs")
        if _comparable(job.document["config"]) != _comparable(first.document["config"]):
            difference = _first_difference(_comparable(first.document["config"]), _comparable(job.document["config"]))
            raise MergeError(f"{first.name} and {job.name} ran different configurations: {difference}")
        if job.shard["selection"] != first.shard["selection"]:
            raise MergeError(f"{first.name} and {job.name} selected different items (-k, -m, paths or "
                             "--limit-samples differ): run every job with the same command")
        models = {first.document.get("model"), job.document.get("model")} - {None}
        if len(models) > 1:
            raise MergeError(f"{first.name} and {job.name} evaluated different models: {' and '.join(sorted(models))}")
        if job.document["provenance"].get("plugin_version") != first.document["provenance"].get("plugin_version"):
            raise MergeError(f"{first.name} and {job.name} ran different versions of pytest-nemoeval")
    entries: dict[str, tuple[Job, dict[str, Any]]] = {}
    for job in jobs:
        for name, entry in job.document["benchmarks"].items():
            seen = entries.setdefault(name, (job, entry))
            for key in SAME_PER_BENCHMARK:
                if entry.get(key) != seen[1].get(key):
                    what = "read different data" if key == "dataset" else f"have a different {key}"
                    raise MergeError(f"{seen[0].name} and {job.name} {what} for {name}: "
                                     f"{_first_difference(seen[1].get(key), entry.get(key), key + '.')}")
    count = first.shard["count"]
    given = Counter(job.shard["index"] for job in jobs)
    twice = [index for index, times in sorted(given.items()) if times > 1]
    if twice:
        paths = [str(job.path) for job in jobs if job.shard["index"] == twice[0]]
        raise MergeError(f"shard {twice[0]}/{count} is given more than once: {', '.join(paths)} (overlapping parts)")
    missing = [f"{index}/{count}" for index in range(1, count + 1) if index not in given]
    if missing:
        raise MergeError(f"shard(s) {', '.join(missing)} missing: merge all {count} parts of the run")
    warnings = []
    for job in jobs:
        lacking = job.incomplete()
        if lacking and not allow_incomplete:
            raise MergeError(f"{job.name} is incomplete: {'; '.join(lacking)}; rerun it with the same command (its "
                             "cache keeps what was answered), or pass --allow-incomplete")
        if lacking:
            warnings.append(f"{job.name} is incomplete: {'; '.join(lacking)}")
    return warnings


def run_config(job: Job, into: Path) -> Any:
    """The run configuration the jobs share, as the run in one piece resolves it (no shard; results in OUT)."""
    from pytest_nemoeval.config import RunConfig
    from pytest_nemoeval.gate import parse_threshold

    tree = copy.deepcopy(job.document["config"])
    thresholds = [parse_threshold(text, "results.json threshold") for text in tree.pop("thresholds", [])]
    tree["shard"] = None
    tree["results_dir"] = os.fspath(into)
    if tree.get("baseline") is not None and not (Path(tree["baseline"]) / "results.json").is_file():
        raise MergeError(f"the jobs compared with --baseline {tree['baseline']}, which is not there from here: run "
                         "the merge in the jobs' working directory")
    return RunConfig(tree=tree, thresholds=thresholds)


def metrics_hook() -> Any:
    """The pytest_nemoeval_metrics hook as a run has it: the built-in metrics and installed plugins' (pytest11)."""
    from pytest_nemoeval import hookspecs, metrics

    manager = pytest.PytestPluginManager()
    manager.add_hookspecs(hookspecs)
    manager.load_setuptools_entrypoints("pytest11")
    manager.register(metrics, "nemoeval-metrics")
    return manager.hook


def merge(paths: list[Path], into: Path, allow_incomplete: bool = False) -> tuple[int, ResultsDocument, list[str]]:
    """Merge the jobs' directories into `into`: (the gate's exit status, the document, warnings)."""
    jobs = sorted((read_job(path) for path in paths), key=lambda job: job.shard["index"])
    warnings = check(jobs, allow_incomplete)
    if into.resolve() in {job.path.resolve() for job in jobs}:
        raise MergeError(f"--into {into} is one of the jobs' directories: merge into a new directory")
    if (into / "results.json").exists():
        raise MergeError(f"--into {into} already holds a run: merge into a new directory, or remove it")
    run = run_config(jobs[0], into)
    collector = ResultsCollector(into.resolve(), "merge")
    for job in jobs:
        for name, entry in job.document["benchmarks"].items():
            if name not in collector.tallies:
                suite_file = job.shard["suites"][name]
                if not Path(suite_file).is_file():
                    raise MergeError(f"{name}: its suite {suite_file} is not there from here: run the merge where "
                                     "the jobs ran (same checkout)")
                collector.tallies[name] = BenchmarkTally(
                    entry["primary_metric"], entry["repeats"], suite_file, entry.get("dataset"),
                    entry.get("generation"), entry.get("scoring"),
                    category_field=(entry.get("categories") or {}).get("field"))
        for name, skipped in job.shard["skipped"].items():
            collector.skipped[name] += skipped["items"]
            collector.skipped_samples.setdefault(name, set()).update(skipped["samples"])
    lock = flock.try_hold(into / ".nemoeval" / "run.lock", f"merge, pid {os.getpid()}")
    if lock is None:
        raise MergeError(f"--into {into} is in use by another run or merge")
    try:
        try:
            for job in jobs:
                for name in sorted(job.document["benchmarks"]):
                    _add_rows(collector, job, name)
            document = ResultsDocument(metrics_hook(), run)
            document.model = next((job.document.get("model") for job in jobs if job.document.get("model")), None)
            provenance = dict(jobs[0].document["provenance"])
            provenance["started"] = min(job.document["provenance"]["started"] for job in jobs)
            provenance["finished"] = max(job.document["provenance"]["finished"] for job in jobs)
            status = document.write(collector, jobs[0].document["endpoint"], provenance)
        except BaseException:
            collector.discard()
            raise
        write_atomic(into / "shards.json", json.dumps(
            [{"dir": str(job.path), "shard": f"{job.shard['index']}/{job.shard['count']}",
              "endpoint": job.document["endpoint"], "model": job.document.get("model"),
              "provenance": job.document["provenance"], "incomplete": job.incomplete()} for job in jobs],
            indent=2, ensure_ascii=False) + "\n")
    finally:
        lock.release()
    return status, document, warnings


def _add_rows(collector: ResultsCollector, job: Job, name: str) -> None:
    path = job.path / name / "samples.jsonl"
    try:
        with open(path, encoding="utf-8") as rows:
            for number, line in enumerate(rows, 1):
                try:
                    added = collector.add_row(name, line)
                except (ValueError, KeyError, TypeError) as exc:
                    raise MergeError(f"{path} line {number}: not a samples row this version writes ({exc!r}): "
                                     "rerun the job with this version") from None
                if not added:
                    raise MergeError(f"{path} line {number}: {name} sample {json.loads(line)['sample_index']} repeat "
                                     f"{json.loads(line)['repeat']} is in another job too (overlapping parts)")
    except OSError as exc:
        raise MergeError(f"{path}: cannot read the job's samples ({exc.strerror})") from None


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="python -m pytest_nemoeval merge",
        description="Merge the results directories of the N jobs of a split run (--shard K/N) into one, as the "
                    "run done in one piece writes it. Exit status: the gate's (0 passed, 1 failed, 6 "
                    "INCONCLUSIVE), 4 usage error.")
    parse.add_argument("dirs", metavar="DIR", nargs="+", help="results directory of a job (every part, once)")
    parse.add_argument("--into", metavar="OUT", required=True, help="the merged run's results directory (new)")
    parse.add_argument("--html", metavar="FILE", help="also write the run's HTML report (as pytest-html's "
                       "summary shows it) to FILE")
    parse.add_argument("--allow-incomplete", action="store_true",
                       help="merge jobs that did not run all their items (their missing items are left out)")
    return parse


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        status, document, warnings = merge([Path(path) for path in args.dirs], Path(args.into),
                                           args.allow_incomplete)
    except (MergeError, pytest.UsageError) as exc:  # UsageError: a threshold or setting the jobs recorded
        print(f"ERROR: {exc}", file=sys.stderr)
        return USAGE_ERROR
    for warning in warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    for row in document.summary_rows() + document.aggregate_rows():
        print(row)
    for failure in document.gate_failures:
        print(f"GATE FAILED: {failure.message}")
    for inconclusive in document.inconclusive:
        print(f"GATE INCONCLUSIVE: {inconclusive.message}")
    print(f"results: {document.path}")
    if args.html:
        from pytest_nemoeval.report.html import HtmlReport

        report = Path(args.html).resolve()
        section = HtmlReport(None, document, Path(args.into).resolve()).section(report)
        write_atomic(report, f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>nemoeval: '
                             f'{html.escape(args.into)}</title></head><body>{section}</body></html>\n')
        print(f"report: {report}")
    if document.run.section("export")["to"]:
        from pytest_nemoeval.export import run_exports

        done, errors = run_exports(Path(args.into).resolve(), document.run.section("export"))
        for line in done:
            print(f"exported: {line}")
        for error in errors:
            print(f"ERROR: {error}", file=sys.stderr)
        status = status or (1 if errors else 0)
    return status
