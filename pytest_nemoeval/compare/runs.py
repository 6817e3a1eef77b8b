"""The two sides of a comparison, read alike: a pytest-nemoeval results directory, or a NeMo Evaluator 0.3 run
(a run directory of `<benchmark>/eval-*.json` bundles, one benchmark's directory, or one bundle file), each as
results.json-shaped benchmark entries and a stream of per-item outcomes.

A NeMo Evaluator 0.3 bundle and its results.jsonl are read as nemo_evaluator/engine/bundles.py and
comparison.py (load_paired_records) read them: the benchmark is the bundle's `benchmark.name`, an item is a
results.jsonl row keyed on (problem_idx, repeat), correct when its reward is above 0, in category
`metadata.category`. A bundle this plugin exported also carries the sample id, prompt hash, dataset fingerprint and
generation settings that pairing checks; a bundle NeMo Evaluator made has none, and the comparison says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

NEL = "nemo-evaluator"
UNCHECKED = "a NeMo Evaluator run records no dataset fingerprint, prompt hash or generation settings to check"


class UnreadableRun(Exception):
    """A run that cannot be compared: the message is the one line the user sees."""


@dataclass(frozen=True, slots=True)  # one per baseline item in memory
class Item:
    """One (sample, repeat) of a run: correct or not, its value (a NeMo Evaluator reward; 1.0 / 0.0 for a verdict)."""

    key: tuple[Any, int]
    correct: bool
    value: float
    prompt_hash: str | None
    category: str | None
    parts: tuple[float, float] | None = None  # a ratio metric's (numerator, denominator) of this item
    tokens: float | None = None  # completion tokens
    latency: float | None = None  # seconds


@dataclass
class Run:
    path: Path
    benchmarks: dict[str, dict[str, Any]]
    files: dict[str, Path]  # per benchmark: its samples.jsonl or results.jsonl
    kind: str = "pytest-nemoeval"

    def items(self, benchmark: str, ratio: tuple[str, str] | None = None) -> Iterator[Item]:
        """The benchmark's items; `ratio`: with the (numerator, denominator) of these metric_inputs keys."""
        rows = _rows(self.files[benchmark])
        return (_nel_item(row) for row in rows if row.get("problem_idx") is not None) if self.kind == NEL else \
            (_item(row, ratio) for row in rows)


def read_run(path: Path, role: str) -> Run:
    """A results directory (results.json) or a NeMo Evaluator 0.3 run; UnreadableRun says what is wrong."""
    if path.is_file():
        if path.name.startswith("eval-") and path.suffix == ".json":
            return _nel_run(path, [path], role)
        raise UnreadableRun(f"{role} {path}: not a results directory or a NeMo Evaluator eval-*.json bundle")
    if not path.is_dir():
        raise UnreadableRun(f"{role} {path}: no such directory (give a results directory of an earlier run)")
    if (path / "results.json").is_file():
        return _our_run(path, role)
    bundles = sorted(path.glob("eval-*.json"))
    if len(bundles) > 1:
        raise UnreadableRun(f"{role} {path}: {len(bundles)} eval-*.json bundles in one directory (give one of them)")
    bundles = bundles or [found for sub in sorted(path.iterdir()) if sub.is_dir()
                          for found in _single(sorted(sub.glob("eval-*.json")))]
    if not bundles:
        raise UnreadableRun(f"{role} {path}: no results.json there, nor a NeMo Evaluator eval-*.json bundle "
                            "(is it a --results-dir of a finished run, or a nel run directory?)")
    return _nel_run(path, bundles, role)


def _single(bundles: list[Path]) -> list[Path]:
    return bundles if len(bundles) == 1 else []  # as discover_bundles: a directory of several is skipped


def _our_run(directory: Path, role: str) -> Run:
    path = directory / "results.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UnreadableRun(f"{role} {path}: not readable as JSON ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("benchmarks"), dict):
        raise UnreadableRun(f"{role} {path}: not a pytest-nemoeval results.json (no 'benchmarks')")
    return Run(directory, document["benchmarks"],
               {name: directory / name / "samples.jsonl" for name in document["benchmarks"]})


def _nel_run(path: Path, bundles: list[Path], role: str) -> Run:
    benchmarks, files = {}, {}
    for bundle_path in bundles:
        try:
            bundle = json.loads(bundle_path.read_text(encoding="utf-8"))
            benchmark = bundle["benchmark"]
            name = str(benchmark["name"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UnreadableRun(f"{role} {bundle_path}: not a NeMo Evaluator bundle ({exc!r})") from None
        if name in benchmarks:
            raise UnreadableRun(f"{role} {path}: benchmark {name!r} twice ({files[name].parent} and {bundle_path})")
        benchmarks[name] = _entry(bundle)
        files[name] = bundle_path.parent / "results.jsonl"
    return Run(path, benchmarks, files, NEL)


def _entry(bundle: dict[str, Any]) -> dict[str, Any]:
    """A bundle as a results.json benchmark entry: what comparison reads of it."""
    benchmark, config = bundle["benchmark"], bundle.get("config") or {}
    scores = {name: score for name, score in (benchmark.get("scores") or {}).items()
              if isinstance(score, dict) and isinstance(score.get("value"), (int, float))}
    metrics = {name: {"value": score["value"], **({"ci95": [score["ci_lower"], score["ci_upper"]]}
                                                  if score.get("ci_lower") is not None else {})}
               for name, score in scores.items()}
    ours = config.get("pytest_nemoeval")
    entry = {"samples": benchmark.get("samples"), "repeats": benchmark.get("repeats", 1), "metrics": metrics,
             "source": NEL}
    if isinstance(ours, dict):  # exported by this plugin: what pairing checks came along
        return {**entry, **{key: ours.get(key) for key in ("primary_metric", "dataset", "generation", "errors",
                                                            "failures", "per_sample")}}
    return {**entry, "primary_metric": "pass@1" if "pass@1" in scores or "mean_reward" not in scores
            else "mean_reward", "unchecked": UNCHECKED}


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _key(sample: Any, repeat: Any) -> tuple[Any, int]:
    return (sample if isinstance(sample, (int, str)) else json.dumps(sample, sort_keys=True)), int(repeat or 0)


def _item(row: dict[str, Any], ratio: tuple[str, str] | None) -> Item:
    correct = row.get("verdict") == "correct"
    parts = None
    if ratio is not None:  # an errored item passed nothing of what its row counts; unknown size: (0, 0)
        inputs = row.get("metric_inputs") or {}
        parts = (0.0 if row.get("verdict") == "error" else float(inputs.get(ratio[0]) or 0.0),
                 float(inputs.get(ratio[1]) or 0.0))
    return Item(_key(row.get("sample_id"), row.get("repeat")), correct, float(correct), row.get("prompt_hash"),
                row.get("category"), parts, _number(row.get("tokens")), _seconds(row.get("latency")))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _seconds(value: Any) -> float | None:
    """A latency in seconds to the 0.1 ms our runs and their NeMo Evaluator exports both keep, so that one run read
    either way gives the same p95."""
    number = _number(value)
    return None if number is None else round(number, 4)


def _nel_item(row: dict[str, Any]) -> Item:
    metadata = row.get("metadata") or {}
    sample = metadata.get("sample_id")
    reward = float(row.get("reward") or 0.0)
    category = metadata.get("category") or (row.get("scoring_details") or {}).get("category")
    latency = _number(row.get("latency_ms"))
    return Item(_key(int(row["problem_idx"]) if sample is None else sample, row.get("repeat")), reward > 0,
                reward, metadata.get("prompt_hash"), None if category is None else str(category), None,
                _number(row.get("tokens")), None if latency is None else _seconds(latency / 1000))
