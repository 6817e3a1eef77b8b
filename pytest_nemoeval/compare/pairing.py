"""Pairing two runs' items by (sample id, repeat), streaming each run's per-item file once.

The baseline's verdicts are held as one small tuple per item; the candidate's are streamed against them and
folded into per-sample sums at once, so memory grows with the baseline's items, never with response text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from pytest_nemoeval.compare.runs import Item

# the per-sample form of these metrics is the mean of the repeats' verdicts (errors count as wrong); of
# NeMo Evaluator's mean_reward the mean of the repeats' rewards
PER_SAMPLE_METRICS = ("accuracy", "pass@1", "mean_reward")
DATASET_KEYS = ("rows_sha256", "prompts_sha256")


def differences(base: dict[str, Any], candidate: dict[str, Any]) -> list[str]:
    """What makes two runs of one benchmark incomparable: its data, its prompts, its generation settings (not
    checked against a run that records none, a NeMo Evaluator run's)."""
    found: list[str] = []
    if base.get("unchecked") or candidate.get("unchecked"):
        return found
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


@dataclass
class Pairing:
    """Per-sample means of both runs' verdicts over the paired repeats, flips, and prompts that differ."""

    base_mean: list[float] = field(default_factory=list)
    cand_mean: list[float] = field(default_factory=list)
    categories: list[str | None] = field(default_factory=list)  # each sample's (the baseline's, else the candidate's)
    base_den: list[float] = field(default_factory=list)  # a ratio metric: per sample the denominators' sums
    cand_den: list[float] = field(default_factory=list)  # (the means above are then the numerators' sums)
    worse: list[tuple[Any, int]] = field(default_factory=list)  # right -> wrong, by (sample id, repeat)
    better: list[tuple[Any, int]] = field(default_factory=list)  # wrong -> right
    prompt_changed: list[tuple[Any, int]] = field(default_factory=list)
    one_verdict_each: bool = True  # every paired sample has exactly one repeat: McNemar applies
    tokens: list[tuple[float, float]] = field(default_factory=list)  # paired items' (baseline, candidate)
    latency: list[tuple[float, float]] = field(default_factory=list)
    base_items: int = 0
    cand_items: int = 0
    paired_items: int = 0
    extra_items: int = 0  # the candidate's repeats the baseline lacks, in its per-sample means (--until-decided)

    @property
    def differences(self) -> list[float]:
        return [c - b for b, c in zip(self.base_mean, self.cand_mean)]

    @property
    def binary(self) -> bool:
        """One verdict per sample on both sides (McNemar's case), not repeats' means or rewards in between."""
        return self.one_verdict_each and not self.base_den and all(
            value in (0.0, 1.0) for value in self.base_mean + self.cand_mean)


def pair(base_items: Iterable[Item], cand_items: Iterable[Item], by_reward: bool = False,
         by_ratio: bool = False, fold_unpaired: bool = False) -> Pairing:
    """Per-sample means of the paired repeats' verdicts (by_reward: of their values, NeMo Evaluator's mean_reward;
    by_ratio: per-sample sums of the numerators and denominators of a ratio metric). `fold_unpaired`
    (--until-decided): the candidate's per-sample means take in its repeats the baseline lacks (its extra ones)."""
    result = Pairing()
    base: dict[tuple[Any, int], Item] = {item.key: item for item in base_items}
    result.base_items = len(base)
    sums: dict[Any, list[Any]] = {}  # sample id -> [baseline, candidate, paired repeats, category]
    extra: dict[Any, list[float]] = {}  # sample id -> [candidate's extra verdicts' sum, their number]
    for item in cand_items:
        result.cand_items += 1
        found = base.get(item.key)
        if found is None:
            if fold_unpaired:  # of a sample the baseline has (the others are dropped below, unpaired)
                counted = extra.setdefault(item.key[0], [0.0, 0])
                counted[0] += item.value if by_reward else item.correct
                counted[1] += 1
            continue
        if found.prompt_hash and item.prompt_hash and found.prompt_hash != item.prompt_hash:
            result.prompt_changed.append(item.key)  # an errored item has no hash: nothing to check
        if found.tokens is not None and item.tokens is not None:
            result.tokens.append((found.tokens, item.tokens))
        if found.latency is not None and item.latency is not None:
            result.latency.append((found.latency, item.latency))
        if found.correct and not item.correct:
            result.worse.append(item.key)
        elif item.correct and not found.correct:
            result.better.append(item.key)
        entry = sums.setdefault(item.key[0], [0.0, 0.0, 0, found.category or item.category, 0.0, 0.0])
        if by_ratio:
            entry[0] += found.parts[0] if found.parts else 0.0
            entry[1] += item.parts[0] if item.parts else 0.0
            entry[4] += found.parts[1] if found.parts else 0.0
            entry[5] += item.parts[1] if item.parts else 0.0
        else:
            entry[0] += found.value if by_reward else found.correct
            entry[1] += item.value if by_reward else item.correct
        entry[2] += 1
        result.paired_items += 1
    for sample, (base_sum, cand_sum, count, category, base_den, cand_den) in sums.items():
        more, extra_count = extra.get(sample, (0.0, 0))
        result.extra_items += extra_count
        if by_ratio:
            result.base_mean.append(base_sum)
            result.cand_mean.append(cand_sum)
            result.base_den.append(base_den)
            result.cand_den.append(cand_den)
        else:
            result.base_mean.append(base_sum / count)
            result.cand_mean.append((cand_sum + more) / (count + extra_count))
        result.categories.append(category)
        result.one_verdict_each &= count + extra_count == 1
    return result
