"""Results: per-item records streamed to disk during the run, results.json written once at the end.

Only the controller writes (xdist workers send their records home inside their test reports).
Everything lands atomically: samples go to hidden partial files that are renamed at the end.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pytest_nemoeval import __version__
from pytest_nemoeval.aggregates import aggregate, aggregate_rows
from pytest_nemoeval.compare.report import (baseline_column, baseline_comparison, comparison_failures,
                                            inconclusive_exit_status)
from pytest_nemoeval.config import RunConfig
from pytest_nemoeval.errors import Unscored
from pytest_nemoeval.failures import CLASSES, failure_class, summary
from pytest_nemoeval.gate import GateFailure, evaluate
from pytest_nemoeval.metrics import SampleOutcome, benchmark_metrics, rounded
from pytest_nemoeval.report.categories import category_breakdown
from pytest_nemoeval.report.curves import curve_entry
from pytest_nemoeval.scoring import Response
from pytest_nemoeval.suite import load_suite_module

if TYPE_CHECKING:
    from pytest_nemoeval.engine.store import ResponseStore

SCHEMA = "pytest-nemoeval/results/1"
UNGRADED_METRICS = ("no_answer", "error_rate")  # what a run-graded suite's items tell before it is graded


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def git_sha() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


# one item's outcome: correct, extracted answer, metric inputs, error (None when it was scored)
Repeat = tuple[bool, Any, Any, str | None]


@dataclass
class BenchmarkTally:
    primary_metric: str
    repeats: int
    suite_file: str
    dataset: dict[str, Any] | None = None  # where the rows came from and their fingerprints (ItemsPlugin)
    generation: dict[str, Any] | None = None  # the resolved generation settings (a baseline must match them)
    scoring: dict[str, Any] | None = None  # base-model suites: the completions server path (completions.probe)
    samples: dict[int, dict[int, Repeat]] = field(default_factory=lambda: defaultdict(dict))
    items: int = 0
    errors: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # errored items by failure class
    context_overflow: int = 0  # items not sent because they could not fit the context (wrong, not errors)
    first_overflow: str | None = None
    category_field: str | None = None  # the suite's, when it has one: sample index -> its category
    categories: dict[int, str] = field(default_factory=dict)

    def add(self, index: int, repeat: int, outcome: Repeat, category: str | None, overflow: str | None = None) -> bool:
        """One item's outcome (`overflow`: why it was not sent, when it could not fit the context); False (and
        nothing counted) when this sample's repeat is already there."""
        repeats = self.samples[index]
        if repeat in repeats:
            return False
        repeats[repeat] = outcome
        self.items += 1
        if outcome[3] is not None:
            self.errors += 1
            self.failures[failure_class(outcome[3])] += 1
        if category is not None:
            self.categories[index] = category
        if overflow:
            self.context_overflow += 1
            self.first_overflow = self.first_overflow or overflow
        return True

    @property
    def first_error(self) -> str | None:
        """The error of the first item that errored, in sample and repeat order (whatever order items ran in)."""
        for index in sorted(self.samples):
            for repeat in sorted(self.samples[index]):
                if self.samples[index][repeat][3] is not None:
                    return self.samples[index][repeat][3]
        return None

    def outcomes(self) -> list[SampleOutcome]:
        result = []
        for index in sorted(self.samples):
            ordered = [self.samples[index][repeat] for repeat in sorted(self.samples[index])]
            correct, answers, inputs, errors = (list(column) for column in zip(*ordered))
            result.append(SampleOutcome(index, correct, answers, inputs, errors))
        return result


class ResultsCollector:
    def __init__(self, results_dir: Path, run_id: str) -> None:
        self.results_dir = results_dir
        self._partial_dir = results_dir / ".nemoeval" / f"partial-{run_id}"
        self._files: dict[str, IO[str]] = {}
        self.tallies: dict[str, BenchmarkTally] = {}
        self.skipped: Counter[str] = Counter()  # items
        self.skipped_samples: dict[str, set[int]] = {}  # a row is skipped with all its repeats
        self.started = now_iso()

    def add(self, item: dict[str, Any], record: dict[str, Any] | None, error: str | None,
            store: ResponseStore | None) -> None:
        """One finished item: its identity, its verdict record (None on harness error), the error text.

        An item that errored counts as incorrect, with no answer and the suite's `failed_inputs` for its row.
        The record names its response by request key; the text and reasoning come from the store here.
        Each row of samples.jsonl holds what its tally needs (sample index, category, metric inputs, error):
        `merge` rebuilds the tallies of a run split across jobs from them (add_row).
        """
        tally = self.tallies.setdefault(item["benchmark"], BenchmarkTally(
            item["primary_metric"], item["repeats"], item["suite_file"], item.get("dataset"),
            item.get("generation"), item.get("scoring")))
        if item.get("category_field") is not None:
            tally.category_field = item["category_field"]
        if record is None:
            error = error or "error"
            outcome: Repeat = (False, None, item.get("failed_inputs"), error)
            record = {"sample_id": item["sample_id"], "repeat": item["repeat"], "verdict": "error", "error": error,
                      "failure": failure_class(error)}
            if item.get("failed_inputs") is not None:  # what the metrics (and a later grading) count for it
                record["metric_inputs"] = item["failed_inputs"]
        else:
            outcome = (record["correct"], record.get("extracted"), record.get("metric_inputs"), None)
            body = store.get(record["request_key"]) if store is not None and record.get("request_key") else None
            response = Response.from_body(body) if body is not None else None
            record = {**record, "response": response.text if response else None,
                      "reasoning": (response.reasoning or None) if response else None}
            for key in ("tool_use", "conversation"):  # a tool suite's calls; an agentic suite's whole conversation
                if body is not None and key in body:
                    record[key] = body[key]
        category = item.get("category") if tally.category_field is not None else None
        tally.add(item["sample_index"], item["repeat"], outcome, category, record.get("context_overflow"))
        record = {"sample_id": item["sample_id"], "sample_index": item["sample_index"], **record}
        if category is not None:
            record["category"] = category
        self._file(item["benchmark"]).write(json.dumps(record, ensure_ascii=False) + "\n")

    def add_row(self, benchmark: str, line: str) -> bool:
        """A row of a shard's samples.jsonl (merge): tallied as `add` tallied it, and kept as it is; False
        when its sample's repeat is already there."""
        row = json.loads(line)
        tally = self.tallies[benchmark]
        if row["verdict"] == "error":
            outcome: Repeat = (False, None, row.get("metric_inputs"), row.get("error") or "error")
        else:
            outcome = (row["correct"], row.get("extracted"), row.get("metric_inputs"), None)
        category = row.get("category") if tally.category_field is not None else None
        if not tally.add(row["sample_index"], row["repeat"], outcome, category, row.get("context_overflow")):
            return False
        self._file(benchmark).write(line if line.endswith("\n") else line + "\n")
        return True

    def skip(self, item: dict[str, Any]) -> None:
        """An item skipped for a reason stated before anything was sent: counted, out of every metric."""
        self.skipped[item["benchmark"]] += 1
        self.skipped_samples.setdefault(item["benchmark"], set()).add(item["sample_index"])

    def _file(self, benchmark: str) -> IO[str]:
        handle = self._files.get(benchmark)
        if handle is None:
            self._partial_dir.mkdir(parents=True, exist_ok=True)
            handle = self._files[benchmark] = open(self._partial_dir / f"{benchmark}.jsonl", "w", encoding="utf-8")
        return handle

    def sample_files(self) -> dict[str, Path]:
        """Each benchmark's samples.jsonl as written so far (flushed), before finish() moves it in place."""
        for handle in self._files.values():
            handle.flush()
        return {benchmark: self._partial_dir / f"{benchmark}.jsonl" for benchmark in self._files}

    def finish(self, document: dict[str, Any]) -> Path:
        for benchmark, handle in self._files.items():
            handle.close()
            target = self.results_dir / benchmark / "samples.jsonl"
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._partial_dir / f"{benchmark}.jsonl", target)
        self._files.clear()
        self._remove_partial()
        path = self.results_dir / "results.json"
        write_atomic(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return path

    def discard(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()
        self._remove_partial()

    def _remove_partial(self) -> None:
        if self._partial_dir.exists():
            for leftover in self._partial_dir.iterdir():
                leftover.unlink()
            self._partial_dir.rmdir()


def run_provenance(started: str, deployment: dict[str, Any] | None) -> dict[str, Any]:
    """Where and when a run ran (results.json `provenance`)."""
    provenance = {"plugin_version": __version__, "python": platform.python_version(), "git_sha": git_sha(),
                  "started": started, "finished": now_iso()}
    if deployment is not None:
        provenance["deployment"] = deployment
    return provenance


class ResultsDocument:
    """results.json: every benchmark's metrics (built-in, plugins', the suite's own), the gate, provenance.
    A run writes it from its items, `merge` from its shards' samples: the same code computes both."""

    def __init__(self, hook: Any, run: RunConfig) -> None:
        self.hook = hook  # the pytest_nemoeval_metrics hook's caller (pytest's, or merge's plugin manager)
        self.run = run
        self.model: str | None = None
        self.benchmarks: dict[str, dict[str, Any]] = {}
        self.aggregates: dict[str, dict[str, Any]] = {}  # cross-benchmark means (aggregates.py)
        self.gate_failures: list[GateFailure] = []
        self.inconclusive: list[GateFailure] = []  # thresholds on the CI and comparisons that decided nothing
        self.comparison: dict[str, Any] | None = None
        self.until_decided: dict[str, dict[str, Any]] = {}  # per benchmark, what --until-decided did (its looks)
        self.document: dict[str, Any] | None = None  # what results.json holds, once written
        self.path: Path | None = None

    def write(self, collector: ResultsCollector, endpoint: str, provenance: dict[str, Any],
              shard: dict[str, Any] | None = None) -> int:
        """Compute, gate, compare with the baseline and write everything at once (atomically); the exit status
        the gate asks for: 0, 1 (failed), or per --inconclusive when something is INCONCLUSIVE. `shard`: what
        a job of a split run adds for the merge (shard_record)."""
        benchmarks: dict[str, dict[str, Any]] = {}
        for name, tally in sorted(collector.tallies.items()):
            suite = load_suite_module(tally.suite_file).suite
            metrics = benchmark_metrics(self.hook, name, tally.outcomes(), tally.repeats, suite.metrics)
            unscored = None
            if suite.run_grader is not None:
                metrics, unscored = self.grade_run(suite.run_grader, metrics, tally)
            benchmarks[name] = {
                "samples": len(tally.samples), "repeats": tally.repeats, "items": tally.items, "errors": tally.errors,
                "failures": {name: tally.failures[name] for name in CLASSES if tally.failures[name]},
                "context_overflow": tally.context_overflow,
                "skipped": collector.skipped[name],
                "skipped_samples": len(collector.skipped_samples.get(name, ())), "primary_metric": tally.primary_metric,
                "metrics": rounded(metrics), "thresholds": [], "dataset": tally.dataset,
                "generation": tally.generation}
            if suite.run_grader is not None:  # no per-item verdicts: nothing for a baseline comparison to pair
                benchmarks[name]["graded"] = "run"
            if unscored is not None:  # `python -m pytest_nemoeval grade` grades it later with this suite's grader
                benchmarks[name].update(unscored=unscored, suite_file=tally.suite_file)
            if tally.scoring is not None:
                benchmarks[name]["scoring"] = tally.scoring
            if suite.per_sample:  # read by the comparison with a baseline (compare/)
                benchmarks[name]["per_sample"] = {metric: form if isinstance(form, str) else list(form)
                                                  for metric, form in suite.per_sample.items()}
            if name in self.until_decided:  # the comparison takes in its extra repeats, at the look reached
                benchmarks[name]["until_decided"] = self.until_decided[name]
            if suite.curve is not None and (curve := curve_entry(suite.curve, metrics)) is not None:
                benchmarks[name]["curve"] = curve
            if tally.category_field is not None:
                benchmarks[name]["categories"] = category_breakdown(
                    self.hook, name, tally.outcomes(), tally.categories, tally.category_field,
                    tally.repeats, tally.primary_metric)
        first_errors = {name: tally.first_error for name, tally in collector.tallies.items()}
        checks = evaluate(self.run.thresholds, benchmarks, self.run.max_error_rate, first_errors, self.run.gate_on)
        self.aggregates, failed = aggregate(self.run.tree.get("aggregates"), benchmarks, self.run.thresholds,
                                            self.run.gate_on)
        checks += failed
        if self.run.baseline is not None:
            self.comparison = baseline_comparison(self.run, benchmarks, collector.sample_files())
            checks += comparison_failures(self.comparison)
        self.gate_failures = [check for check in checks if not check.inconclusive]
        self.inconclusive = [check for check in checks if check.inconclusive]
        self.benchmarks = benchmarks
        document = {
            "schema": SCHEMA,
            "model": self.model,
            "endpoint": endpoint,
            "config": self.run.as_dict(),
            "provenance": provenance,
            "benchmarks": benchmarks,
            "gate": {"passed": not self.gate_failures, "failures": [failure.message for failure in self.gate_failures]},
        }
        if self.aggregates:
            document["aggregates"] = self.aggregates
        if self.inconclusive:
            document["gate"]["inconclusive"] = [check.message for check in self.inconclusive]
        if self.comparison is not None:
            document["comparison"] = self.comparison
        if shard is not None:
            document["shard"] = shard
        self.document = document
        self.path = collector.finish(document)
        if self.gate_failures:
            return 1
        return inconclusive_exit_status(self.run.inconclusive) if self.inconclusive else 0

    def grade_run(self, grader: Any, metrics: dict[str, Any], tally: BenchmarkTally
                  ) -> tuple[dict[str, Any], str | None]:
        """A run-graded suite's metrics: what does not count correct items (no_answer, error_rate), then the
        grader's; or, when it cannot score the run, those alone and the one-line reason (`unscored`)."""
        kept = {key: metrics[key] for key in UNGRADED_METRICS if key in metrics}
        try:
            return {**kept, **grader(tally.outcomes(), tally.repeats, self.run)}, None
        except Unscored as exc:
            return kept, str(exc)

    def shard_record(self, collector: ResultsCollector, selected: dict[str, Any] | None,
                     stopped: str | None) -> dict[str, Any]:
        """A job's part of a split run (results.json `shard`): which part, the whole run's selection, the items
        this job had to run per benchmark (None: unknown, its worker died), why it stopped early (None: it did
        not), what it skipped, the suite files."""
        index, count = (int(number) for number in str(self.run.shard).split("/"))
        return {**(selected or {"index": index, "count": count, "selection": None, "selected": None,
                                "items": None}),
                "stopped": stopped,
                "skipped": {name: {"items": collector.skipped[name], "samples": sorted(indices)}
                            for name, indices in sorted(collector.skipped_samples.items())},
                "suites": {name: tally.suite_file for name, tally in sorted(collector.tallies.items())}}

    def summary_rows(self) -> list[str]:
        rows = []
        failed = {failure.benchmark for failure in self.gate_failures}
        for name, entry in self.benchmarks.items():
            metric = entry["metrics"].get(entry["primary_metric"], {})
            low, high = metric.get("ci95", [0.0, 0.0])
            checks = entry.get("thresholds") or []
            gate = "FAILED" if name in failed else ("passed" if checks else "no threshold")
            total = entry["samples"] + entry["skipped_samples"]  # the metrics cover `samples` of them
            samples = f"{entry['samples']} of {total} ({entry['skipped_samples']} skipped)" if entry["skipped_samples"] \
                else str(entry["samples"])
            compared = (self.comparison or {}).get("benchmarks", {}).get(name)
            versus = f"  {baseline_column(compared)}" if compared else ""
            if "unscored" in entry:
                rows.append(f"{name}: unscored: {entry['unscored']}  samples={samples} items={entry['items']} "
                            f"errors={entry['errors']}  gate: {'INCONCLUSIVE' if checks else 'no threshold'}")
                continue
            overflow = f" context_overflow={entry['context_overflow']}" if entry.get("context_overflow") else ""
            rows.append(f"{name}: {entry['primary_metric']} {metric.get('value', 0.0):.4f} "
                        f"(95% CI {low:.4f}-{high:.4f}, stderr {metric.get('stderr', 0.0):.4f})  "
                        f"samples={samples} items={entry['items']} errors={entry['errors']}"
                        f"{' (' + summary(entry['failures']) + ')' if entry['failures'] else ''}{overflow}  "
                        f"gate: {gate}{versus}")
        return rows

    def aggregate_rows(self) -> list[str]:
        return aggregate_rows(self.aggregates, {failure.benchmark for failure in self.gate_failures})
