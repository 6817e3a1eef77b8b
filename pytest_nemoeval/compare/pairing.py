"""Pairing two runs' samples by (sample id, repeat), streaming each samples.jsonl once.

The baseline's verdicts are held as one small tuple per item; the candidate's are streamed against them and
folded into per-sample sums at once, so memory grows with the baseline's items, never with response text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

# the per-sample form of these metrics is the mean of the repeats' verdicts (errors count as wrong)
PER_SAMPLE_METRICS = ("accuracy", "pass@1")
DATASET_KEYS = ("rows_sha256", "prompts_sha256")


class UnreadableRun(Exception):
    """A results directory that cannot be compared: the message is the one line the user sees."""


def read_results(directory: Path, role: str) -> dict[str, Any]:
    if not directory.is_dir():
        raise UnreadableRun(f"{role} {directory}: no such directory (give a results directory of an earlier run)")
    path = directory / "results.json"
    if not path.is_file():
        raise UnreadableRun(f"{role} {directory}: no results.json there (is it a --results-dir of a finished run?)")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UnreadableRun(f"{role} {path}: not readable as JSON ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("benchmarks"), dict):
        raise UnreadableRun(f"{role} {path}: not a pytest-nemoeval results.json (no 'benchmarks')")
    return document


def differences(base: dict[str, Any], candidate: dict[str, Any]) -> list[str]:
    """What makes two runs of one benchmark incomparable: its data, its prompts, its generation settings."""
    found = []
    base_data, cand_data = base.get("dataset") or {}, candidate.get("dataset") or {}
    for key in DATASET_KEYS:
        if base_data.get(key) != cand_data.get(key):
            found.append(f"dataset {key} {_short(base_data.get(key))} != {_short(cand_data.get(key))}")
    base_gen, cand_gen = base.get("generation") or {}, candidate.get("generation") or {}
    for key in sorted(set(base_gen) | set(cand_gen)):
        if base_gen.get(key) != cand_gen.get(key):
            found.append(f"generation.{key} {base_gen.get(key)!r} != {cand_gen.get(key)!r}")
    return found


def _short(value: Any) -> str:
    return str(value)[:12] if value is not None else "(none)"


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _key(row: dict[str, Any]) -> tuple[Any, int]:
    sample = row.get("sample_id")
    return (sample if isinstance(sample, (int, str)) else json.dumps(sample, sort_keys=True)), int(row.get("repeat", 0))


@dataclass
class Pairing:
    """Per-sample means of both runs' verdicts over the paired repeats, flips, and prompts that differ."""

    base_mean: list[float] = field(default_factory=list)
    cand_mean: list[float] = field(default_factory=list)
    worse: list[tuple[Any, int]] = field(default_factory=list)  # right -> wrong, by (sample id, repeat)
    better: list[tuple[Any, int]] = field(default_factory=list)  # wrong -> right
    prompt_changed: list[tuple[Any, int]] = field(default_factory=list)
    one_verdict_each: bool = True  # every paired sample has exactly one repeat: McNemar applies
    base_items: int = 0
    cand_items: int = 0
    paired_items: int = 0

    @property
    def differences(self) -> list[float]:
        return [c - b for b, c in zip(self.base_mean, self.cand_mean)]


def pair(base_samples: Path, cand_samples: Path) -> Pairing:
    result = Pairing()
    base: dict[tuple[Any, int], tuple[bool, str | None]] = {}
    for row in _rows(base_samples):
        base[_key(row)] = (row.get("verdict") == "correct", row.get("prompt_hash"))
    result.base_items = len(base)
    sums: dict[Any, list[float]] = {}  # sample id -> [baseline correct, candidate correct, paired repeats]
    for row in _rows(cand_samples):
        result.cand_items += 1
        key = _key(row)
        found = base.get(key)
        if found is None:
            continue
        base_correct, base_hash = found
        cand_correct, cand_hash = row.get("verdict") == "correct", row.get("prompt_hash")
        if base_hash and cand_hash and base_hash != cand_hash:  # an errored item has no hash: nothing to check
            result.prompt_changed.append(key)
        if base_correct and not cand_correct:
            result.worse.append(key)
        elif cand_correct and not base_correct:
            result.better.append(key)
        entry = sums.setdefault(key[0], [0.0, 0.0, 0])
        entry[0] += base_correct
        entry[1] += cand_correct
        entry[2] += 1
        result.paired_items += 1
    for base_sum, cand_sum, count in sums.values():
        result.base_mean.append(base_sum / count)
        result.cand_mean.append(cand_sum / count)
        result.one_verdict_each &= count == 1
    return result
