"""BFCL scores: per category, the leaderboard's groups and its overall score for each version."""

from __future__ import annotations

from typing import Any

from pytest_nemoeval.tasks.bfcl import MEMORY, MULTI_TURN, WEB_SEARCH
from pytest_nemoeval.metrics import SampleOutcome, summarize

Score = tuple[float, int]  # (accuracy, number of entries)


def category_scores(outcomes: list[SampleOutcome]) -> dict[str, list[float]]:
    """Per category, each entry's accuracy averaged over its repeats; a repeat that errored is wrong. An entry's
    category comes from a verdict or, when every repeat errored, from its row (the suites' `failed_inputs`)."""
    scores: dict[str, list[float]] = {}
    for outcome in outcomes:
        inputs = next((entry for entry in outcome.inputs if entry), None)
        if inputs:
            scores.setdefault(inputs["category"], []).append(sum(outcome.correct) / len(outcome.correct))
    return scores


def _unweighted(parts: list[Score | None]) -> Score | None:
    present = [part for part in parts if part is not None]
    if not present:
        return None
    return sum(accuracy for accuracy, _ in present) / len(present), sum(count for _, count in present)


def _weighted(parts: list[Score | None], weights: list[float] | None = None) -> Score | None:
    present = [(part, weight) for part, weight in zip(parts, weights or [None] * len(parts)) if part is not None]
    if not present:
        return None
    total = sum(weight if weight is not None else count for (_, count), weight in present)
    value = sum(accuracy * (weight if weight is not None else count) for (accuracy, count), weight in present)
    return value / total, sum(count for (_, count), _ in present)


def overall_scores(version: str, categories: dict[str, Score]) -> dict[str, Score]:
    """The leaderboard's groups and overall score. A group or category with no scored entries is left out
    (and the weights of the rest renormalised), so the score covers exactly the categories that ran.

    v3: BFCL v3 leaderboard as NeMo-Skills reproduces it (nemo_skills/dataset/bfcl_v3/bfcl_score.py):
    unweighted mean of non-live (incl. irrelevance), live (entry-weighted, incl. (ir)relevance), multi-turn.
    v4: bfcl-eval 2026.3.23 eval_runner_helper.generate_leaderboard_csv: weights 10/10/10/30/40 on non-live
    AST, live AST (entry-weighted), irrelevance (non-live and live), multi-turn, agentic (web search, memory).
    """
    get = categories.get
    simple = _unweighted([get(name) for name in ("simple_python", "simple_java", "simple_javascript")])
    non_live_ast = [simple, get("multiple"), get("parallel"), get("parallel_multiple")]
    live_ast = [get(name) for name in ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple")]
    groups: dict[str, Score | None] = {"simple_ast": simple, "multi_turn": _unweighted([get(n) for n in MULTI_TURN])}
    if version == "bfcl_v3":
        groups["non_live"] = _unweighted(non_live_ast + [get("irrelevance")])
        groups["live"] = _weighted(live_ast + [get("live_irrelevance"), get("live_relevance")])
        groups["overall"] = _unweighted([groups["non_live"], groups["live"], groups["multi_turn"]])
    else:
        groups["non_live"] = _unweighted(non_live_ast)
        groups["live"] = _weighted(live_ast)
        groups["total_irrelevance"] = _unweighted([get("irrelevance"), get("live_irrelevance")])
        groups["web_search"] = _unweighted([get(name) for name in WEB_SEARCH])
        groups["memory"] = _unweighted([get(name) for name in MEMORY])
        groups["agentic"] = _unweighted([groups["web_search"], groups["memory"]])
        groups["overall"] = _weighted([groups["non_live"], groups["live"], groups["total_irrelevance"],
                                       groups["multi_turn"], groups["agentic"]], [10, 10, 10, 30, 40])
    return {name: score for name, score in groups.items() if score is not None}


def bfcl_v3(outcomes: list[SampleOutcome], repeats: int) -> dict[str, Any]:
    """BFCL v3's per-category scores, groups and overall (NeMo Skills' v3 leaderboard score)."""
    return scores("bfcl_v3", outcomes)


def bfcl_v4(outcomes: list[SampleOutcome], repeats: int) -> dict[str, Any]:
    """BFCL v4's per-category scores, groups and weighted overall (bfcl-eval's leaderboard)."""
    return scores("bfcl_v4", outcomes)


def scores(version: str, outcomes: list[SampleOutcome]) -> dict[str, Any]:
    per_category = category_scores(outcomes)
    metrics: dict[str, Any] = {name: summarize(values) for name, values in sorted(per_category.items())}
    counted = {name: (sum(values) / len(values), len(values)) for name, values in per_category.items()}
    for name, (value, entries) in overall_scores(version, counted).items():
        metrics[name] = {"value": value, "samples": entries}
    if "overall" in metrics:
        metrics["overall"]["covers"] = sorted(counted)
        metrics["overall"]["category_weights"] = category_weights(version, counted)
    return metrics


def category_weights(version: str, counted: dict[str, Score]) -> dict[str, float]:
    """The overall score's coefficient on each category's accuracy, for these categories and entry counts:
    the overall is linear in them (means and entry-weighted means of means), so the coefficient of a category
    is the overall with that category at 1 and the others at 0. Overall = sum(weight * accuracy); each of a
    category's entries weighs weight / entries (the per-sample form a comparison with a baseline pairs on)."""
    return {name: overall_scores(version, {other: (float(other == name), count)
                                           for other, (_, count) in counted.items()}).get("overall", (0.0, 0))[0]
            for name in sorted(counted)}
