"""Results: per-item records streamed to disk during the run, results.json written once at the end.

Only the controller writes (xdist workers send their records home inside their test reports).
Everything lands atomically: samples go to hidden partial files that are renamed at the end.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from pytest_nemoeval.metrics import SampleOutcome
from pytest_nemoeval.scoring import Response
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


@dataclass
class BenchmarkTally:
    primary_metric: str
    repeats: int
    suite_file: str
    samples: dict[int, dict[int, tuple[bool, Any, Any]]] = field(default_factory=lambda: defaultdict(dict))
    seen: set[int] = field(default_factory=set)
    items: int = 0
    errors: int = 0

    def outcomes(self) -> list[SampleOutcome]:
        result = []
        for index in sorted(self.samples):
            by_repeat = self.samples[index]
            ordered = [by_repeat[repeat] for repeat in sorted(by_repeat)]
            result.append(SampleOutcome(index, [c for c, _, _ in ordered], [a for _, a, _ in ordered],
                                        [i for _, _, i in ordered]))
        return result


class ResultsCollector:
    def __init__(self, results_dir: Path, run_id: str) -> None:
        self.results_dir = results_dir
        self._partial_dir = results_dir / ".nemoeval" / f"partial-{run_id}"
        self._files: dict[str, IO[str]] = {}
        self.tallies: dict[str, BenchmarkTally] = {}
        self.started = now_iso()

    def add(self, item: dict[str, Any], record: dict[str, Any] | None, error: str | None,
            store: ResponseStore | None) -> None:
        """One finished item: its identity, its verdict record (None on harness error), the error text.

        The record names its response by request key; the text and reasoning come from the store here.
        """
        tally = self.tallies.setdefault(item["benchmark"], BenchmarkTally(item["primary_metric"], item["repeats"], item["suite_file"]))
        tally.items += 1
        tally.seen.add(item["sample_index"])
        if record is None:
            tally.errors += 1
            record = {"sample_id": item["sample_id"], "repeat": item["repeat"], "verdict": "error", "error": error}
        else:
            tally.samples[item["sample_index"]][item["repeat"]] = (
                record["correct"], record.get("extracted"), record.get("metric_inputs"))
            body = store.get(record["request_key"]) if store is not None and record.get("request_key") else None
            response = Response.from_body(body) if body is not None else None
            record = {**record, "response": response.text if response else None,
                      "reasoning": (response.reasoning or None) if response else None}
        self._file(item["benchmark"]).write(json.dumps(record, ensure_ascii=False) + "\n")

    def _file(self, benchmark: str) -> IO[str]:
        handle = self._files.get(benchmark)
        if handle is None:
            self._partial_dir.mkdir(parents=True, exist_ok=True)
            handle = self._files[benchmark] = open(self._partial_dir / f"{benchmark}.jsonl", "w", encoding="utf-8")
        return handle

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


def provenance(plugin_version: str, started: str) -> dict[str, Any]:
    return {"plugin_version": plugin_version, "python": platform.python_version(), "git_sha": git_sha(),
            "started": started, "finished": now_iso()}
