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
from pytest_nemoeval.compare.report import (baseline_column, baseline_comparison, comparison_failures,
                                            inconclusive_exit_status)
from pytest_nemoeval.config import RunConfig
from pytest_nemoeval.gate import GateFailure, evaluate
from pytest_nemoeval.metrics import SampleOutcome, benchmark_metrics, rounded
from pytest_nemoeval.report.categories import category_breakdown
from pytest_nemoeval.scoring import Response
from pytest_nemoeval.suite import load_suite_module

if TYPE_CHECKING:
    import pytest

    from pytest_nemoeval.engine.store import ResponseStore

SCHEMA = "pytest-nemoeval/results/1"


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
    first_error: str | None = None
    context_overflow: int = 0  # items not sent because they could not fit the context (wrong, not errors)
    first_overflow: str | None = None
    category_field: str | None = None  # the suite's, when it has one: sample index -> its category
    categories: dict[int, str] = field(default_factory=dict)

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
        """
        tally = self.tallies.setdefault(item["benchmark"], BenchmarkTally(
            item["primary_metric"], item["repeats"], item["suite_file"], item.get("dataset"),
            item.get("generation"), item.get("scoring")))
        tally.items += 1
        if item.get("category_field") is not None:
            tally.category_field = item["category_field"]
            tally.categories[item["sample_index"]] = item["category"]
        repeats = tally.samples[item["sample_index"]]
        if record is None:
            error = error or "error"
            tally.errors += 1
            tally.first_error = tally.first_error or error
            repeats[item["repeat"]] = (False, None, item.get("failed_inputs"), error)
            record = {"sample_id": item["sample_id"], "repeat": item["repeat"], "verdict": "error", "error": error}
        else:
            repeats[item["repeat"]] = (record["correct"], record.get("extracted"), record.get("metric_inputs"), None)
            if record.get("context_overflow"):
                tally.context_overflow += 1
                tally.first_overflow = tally.first_overflow or record["context_overflow"]
            body = store.get(record["request_key"]) if store is not None and record.get("request_key") else None
            response = Response.from_body(body) if body is not None else None
            record = {**record, "response": response.text if response else None,
                      "reasoning": (response.reasoning or None) if response else None}
            if body is not None and "tool_use" in body:  # a tool suite's calls: code, output, status, wall time
                record["tool_use"] = body["tool_use"]
        self._file(item["benchmark"]).write(json.dumps(record, ensure_ascii=False) + "\n")

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
        if self._partial_dir.exists():
            for leftover in self._partial_dir.iterdir():
                leftover.unlink()
            self._partial_dir.rmdir()
        path = self.results_dir / "results.json"
        write_atomic(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return path

    def discard(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()


class ResultsDocument:
    """results.json: every benchmark's metrics (built-in, plugins', the suite's own), the gate, provenance."""

    def __init__(self, config: pytest.Config, run: RunConfig) -> None:
        self.config = config
        self.run = run
        self.model: str | None = None
        self.benchmarks: dict[str, dict[str, Any]] = {}
        self.gate_failures: list[GateFailure] = []
        self.inconclusive: list[GateFailure] = []  # thresholds on the CI and comparisons that decided nothing
        self.comparison: dict[str, Any] | None = None
        self.document: dict[str, Any] | None = None  # what results.json holds, once written
        self.path: Path | None = None

    def write(self, collector: ResultsCollector, endpoint: str, deployment: dict[str, Any] | None) -> int:
        """Compute, gate, compare with the baseline and write everything at once (atomically); the exit status
        the gate asks for: 0, 1 (failed), or per --inconclusive when something is INCONCLUSIVE."""
        benchmarks: dict[str, dict[str, Any]] = {}
        for name, tally in sorted(collector.tallies.items()):
            own = load_suite_module(tally.suite_file).suite.metrics
            metrics = benchmark_metrics(self.config.hook, name, tally.outcomes(), tally.repeats, own)
            benchmarks[name] = {
                "samples": len(tally.samples), "repeats": tally.repeats, "items": tally.items, "errors": tally.errors,
                "context_overflow": tally.context_overflow,
                "skipped": collector.skipped[name],
                "skipped_samples": len(collector.skipped_samples.get(name, ())), "primary_metric": tally.primary_metric,
                "metrics": rounded(metrics), "thresholds": [], "dataset": tally.dataset,
                "generation": tally.generation}
            if tally.scoring is not None:
                benchmarks[name]["scoring"] = tally.scoring
            if tally.category_field is not None:
                benchmarks[name]["categories"] = category_breakdown(
                    self.config.hook, name, tally.outcomes(), tally.categories, tally.category_field,
                    tally.repeats, tally.primary_metric)
        first_errors = {name: tally.first_error for name, tally in collector.tallies.items()}
        checks = evaluate(self.run.thresholds, benchmarks, self.run.max_error_rate, first_errors, self.run.gate_on)
        if self.run.baseline is not None:
            self.comparison = baseline_comparison(self.run, benchmarks, collector.sample_files())
            checks += comparison_failures(self.comparison)
        self.gate_failures = [check for check in checks if not check.inconclusive]
        self.inconclusive = [check for check in checks if check.inconclusive]
        self.benchmarks = benchmarks
        provenance = {"plugin_version": __version__, "python": platform.python_version(), "git_sha": git_sha(),
                      "started": collector.started, "finished": now_iso()}
        if deployment is not None:
            provenance["deployment"] = deployment
        document = {
            "schema": SCHEMA,
            "model": self.model,
            "endpoint": endpoint,
            "config": self.run.as_dict(),
            "provenance": provenance,
            "benchmarks": benchmarks,
            "gate": {"passed": not self.gate_failures, "failures": [failure.message for failure in self.gate_failures]},
        }
        if self.inconclusive:
            document["gate"]["inconclusive"] = [check.message for check in self.inconclusive]
        if self.comparison is not None:
            document["comparison"] = self.comparison
        self.document = document
        self.path = collector.finish(document)
        if self.gate_failures:
            return 1
        return inconclusive_exit_status(self.run.inconclusive) if self.inconclusive else 0

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
            overflow = f" context_overflow={entry['context_overflow']}" if entry.get("context_overflow") else ""
            rows.append(f"{name}: {entry['primary_metric']} {metric.get('value', 0.0):.4f} "
                        f"(95% CI {low:.4f}-{high:.4f}, stderr {metric.get('stderr', 0.0):.4f})  "
                        f"samples={samples} items={entry['items']} errors={entry['errors']}{overflow}  "
                        f"gate: {gate}{versus}")
        return rows

