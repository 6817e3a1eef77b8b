"""The comparison of a candidate run with a baseline run: per benchmark the paired delta, flips, McNemar, the
verdict; the overall status and exit status; and the lines shown in the terminal, markdown and HTML."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pytest_nemoeval.compare.pairing import PER_SAMPLE_METRICS, differences, pair
from pytest_nemoeval.compare.policy import INCONCLUSIVE_STATUS, BenchmarkPolicy
from pytest_nemoeval.compare.runs import Run, read_run
from pytest_nemoeval.compare.sequential import sequential_verdict
from pytest_nemoeval.compare.stats import (ALPHA_ONE_SIDED, GO, INCONCLUSIVE, INSUFFICIENT, NO_GO, PERMUTATIONS,
                                           PairedDelta, clustered_delta, holm, mcnemar_exact,
                                           minimum_detectable_effect,
                                           paired_delta, regression_p, samples_needed, sign_flip_p, verdict)
from pytest_nemoeval.failures import ENDPOINT, summary
from pytest_nemoeval.gate import GateFailure

NOT_COMPARABLE = "NOT COMPARABLE"
NEW = "NEW"  # in the candidate, not in the baseline: reported, never gated
PERMUTATION_UP_TO = 2000  # pairs; beyond, the sign-flip distribution is normal and the paired z test is reported


def compare_benchmark(name: str, base_run: Run, cand_run: Run, policy: BenchmarkPolicy, max_drop: float,
                      show_flips: bool) -> dict[str, Any]:
    base, cand = base_run.benchmarks[name], cand_run.benchmarks[name]
    drop = policy.max_drop if policy.max_drop is not None else max_drop
    metric = policy.metric or base.get("primary_metric") or "accuracy"
    entry: dict[str, Any] = {"tier": policy.tier, "metric": metric, "direction": policy.direction, "max_drop": drop}
    form = _per_sample_form(base, cand, metric)
    weights = None
    if form == "category_weights":  # BFCL's overall: each sample weighs its category's share of the metric
        weights = (base.get("metrics") or {}).get(metric, {}).get("category_weights")
        if not weights or weights != (cand.get("metrics") or {}).get(metric, {}).get("category_weights"):
            form = None  # a run that does not say its weights, or other categories on each side
    if metric not in PER_SAMPLE_METRICS and form is None:
        # other metrics (a suite that declares no per-sample form for them) are compared on the verdicts
        entry["metric"] = "pass@1"
        entry["note"] = f"{metric} has no per-sample form in samples.jsonl; compared on pass@1 (the verdicts)"
    ratio = tuple(form) if isinstance(form, list) else None
    unchecked = base.get("unchecked") or cand.get("unchecked")
    if unchecked:
        entry["note"] = (entry["note"] + "; " if "note" in entry else "") + unchecked
    reasons = differences(base, cand)
    if "run" in (base.get("graded"), cand.get("graded")):
        reasons.append("graded for the whole run (e.g. by a remote API): no per-sample verdicts to pair")
    missing = [str(path) for path in (base_run.files[name], cand_run.files[name]) if not path.is_file()]
    if missing:
        reasons.append(f"no per-item results at {', '.join(missing)}")
    sequential = cand.get("until_decided")  # extra repeats run by --until-decided, and the sequential design
    if not reasons:
        pairing = pair(base_run.items(name, ratio), cand_run.items(name, ratio),
                       by_reward=entry["metric"] == "mean_reward", by_ratio=ratio is not None,
                       fold_unpaired=bool(sequential))
        if pairing.prompt_changed:
            sample, repeat = pairing.prompt_changed[0]
            reasons.append(f"the prompt of {len(pairing.prompt_changed)} paired item(s) differs "
                           f"(first: sample {sample} repeat {repeat})")
    if reasons:
        return {**entry, "comparable": False, "verdict": NOT_COMPARABLE, "reason": "; ".join(reasons)}
    if weights is not None:
        differences_, values = _weighted_differences(pairing, weights)
    else:
        differences_, values = _ratio_differences(pairing) if ratio else (pairing.differences, None)
    binary = pairing.binary and weights is None  # McNemar counts flips of equal weight
    clustered = all(category is not None for category in pairing.categories)
    delta = clustered_delta(differences_, [str(c) for c in pairing.categories]) if clustered else \
        paired_delta(differences_)
    n = delta.n
    if values is not None:  # the ratio's change, with the stderr of the linearized differences
        delta = PairedDelta(n, values[1] - values[0], delta.sd, delta.stderr, delta.clusters)
    higher = policy.direction == "higher"
    decided = verdict(delta, drop, higher)
    if sequential and decided != INSUFFICIENT:  # the group-sequential boundary of the look reached, not 1.96
        decided, entry["until_decided"] = sequential_verdict(delta, drop, higher, sequential)
    baseline = (values[0] if values else sum(pairing.base_mean) / n) if n else None
    candidate = (values[1] if values else sum(pairing.cand_mean) / n) if n else None
    entry.update({
        "comparable": True, "pairs": n, "paired_items": pairing.paired_items,
        "unpaired": {"baseline": pairing.base_items - pairing.paired_items,
                     "candidate": pairing.cand_items - pairing.paired_items - pairing.extra_items},
        "baseline": baseline, "candidate": candidate,
        "delta": delta.mean, "stderr": delta.stderr, "ci95": list(delta.ci95),
        "stderr_clusters": delta.clusters or None,
        "flips": {"right_to_wrong": len(pairing.worse), "wrong_to_right": len(pairing.better)},
        "mcnemar_p": mcnemar_exact(len(pairing.worse), len(pairing.better)) if binary else None,
        **_change_test(differences_, binary),
        "regression_p": regression_p(delta, drop, higher) if n else None,
        "mde80": minimum_detectable_effect(delta) if n > 1 else None,
        "verdict": decided})
    relative = policy.max_relative_drop
    if relative is not None and baseline and decided != INSUFFICIENT:
        drop_share = -(delta.mean if higher else -delta.mean) / abs(baseline)
        entry["relative_drop"] = drop_share
        if drop_share > relative:  # on the point estimate, as NeMo Evaluator's gate applies it
            entry["verdict"] = NO_GO
            entry["verdict_reason"] = f"relative drop {drop_share:.1%} > max_relative_drop {relative:.1%}"
    _cost(entry, pairing, policy)
    entry["samples_needed"] = samples_needed(delta, drop, higher) if entry["verdict"] == INCONCLUSIVE else None
    entry["errors"] = {"baseline": _errors(base), "candidate": _errors(cand)}
    if show_flips:
        entry["flips"]["ids"] = {"right_to_wrong": [list(key) for key in pairing.worse],
                                 "wrong_to_right": [list(key) for key in pairing.better]}
    return entry


def _cost(entry: dict[str, Any], pairing: Any, policy: BenchmarkPolicy) -> None:
    """Completion tokens per paired item (mean) and the paired items' p95 latency, each run's and the change; over
    a policy's max_tokens_increase / max_latency_p95_increase (point estimates) the verdict is NO-GO."""
    cost: dict[str, Any] = {}
    for name, pairs, statistic, limit in (
            ("tokens_per_item", pairing.tokens, _mean, policy.max_tokens_increase),
            ("latency_p95", pairing.latency, _p95, policy.max_latency_p95_increase)):
        if not pairs:
            continue
        base, cand = statistic([b for b, _ in pairs]), statistic([c for _, c in pairs])
        change = cand / base - 1 if base else None
        cost[name] = {"baseline": base, "candidate": cand, "change": change, "limit": limit}
        if limit is not None and change is not None and change > limit and entry["verdict"] != INSUFFICIENT:
            entry["verdict"] = NO_GO
            reason = f"{name.replace('_', ' ')} {change:+.1%} > {limit:.0%} more than the baseline"
            entry["verdict_reason"] = "; ".join(filter(None, (entry.get("verdict_reason"), reason)))
    if cost:
        entry["cost"] = cost


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values)


def _p95(values: list[float]) -> float:
    """The nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _per_sample_form(base: dict[str, Any], cand: dict[str, Any], metric: str) -> str | list[str] | None:
    """The metric's per-sample form both runs declare alike (a suite's `per_sample`), else None."""
    form = (base.get("per_sample") or {}).get(metric)
    if form != (cand.get("per_sample") or {}).get(metric):
        return None
    return form if form in ("verdict", "category_weights") or (isinstance(form, list) and len(form) == 2) else None


def _weighted_differences(pairing: Any, weights: dict[str, float]) -> tuple[list[float], tuple[float, float] | None]:
    """A metric that is sum over categories of weight * the category's mean (BFCL overall): each paired sample
    weighs w = its category's weight / the category's paired samples; each run's value is sum(w * mean), and the
    paired differences n * w * (candidate - baseline) have that change as their mean."""
    n = len(pairing.base_mean)
    if n == 0:
        return [], None
    counts: dict[str | None, int] = {}
    for category in pairing.categories:
        counts[category] = counts.get(category, 0) + 1
    each = [weights.get(str(category), 0.0) / counts[category] for category in pairing.categories]
    values = (sum(w * b for w, b in zip(each, pairing.base_mean)), sum(w * c for w, c in zip(each, pairing.cand_mean)))
    return [n * w * (c - b) for w, b, c in zip(each, pairing.base_mean, pairing.cand_mean)], values


def _ratio_differences(pairing: Any) -> tuple[list[float], tuple[float, float] | None]:
    """A ratio metric sum(y) / sum(x) of each run, and the paired differences of its linearization
    (y_i - R x_i) / mean(x), whose mean is 0 and whose stderr is the ratio estimator's (as metrics.ratio_summary)."""
    n = len(pairing.base_mean)
    totals = (sum(pairing.base_den), sum(pairing.cand_den))
    if n == 0 or not all(totals):
        return [], None
    ratios = (sum(pairing.base_mean) / totals[0], sum(pairing.cand_mean) / totals[1])
    z = [[(y - ratio * x) / (total / n) for y, x in zip(ys, xs)] for ys, xs, ratio, total in (
        (pairing.base_mean, pairing.base_den, ratios[0], totals[0]),
        (pairing.cand_mean, pairing.cand_den, ratios[1], totals[1]))]
    return [c - b for b, c in zip(*z)], ratios


def _errors(entry: dict[str, Any]) -> dict[str, Any] | None:
    """A run's errored items and their failure classes (a NeMo Evaluator run's are not known here)."""
    return None if entry.get("errors") is None else {"items": entry["errors"], "by_class": entry.get("failures") or {}}


def _endpoint_note(entry: dict[str, Any]) -> str:
    """Where the candidate's errors are the endpoint's (timeouts, rate limits, server errors, connections)."""
    errors = (entry.get("errors") or {}).get("candidate") or {}
    sick = {name: count for name, count in (errors.get("by_class") or {}).items() if name in ENDPOINT}
    return f"; candidate errors: {summary(sick)} (the endpoint's, counted as wrong answers)" if sick else ""


def _change_test(differences: list[float], binary: bool) -> dict[str, Any]:
    """The paired test of any change for what McNemar does not fit (repeats' means, non-binary rewards)."""
    if binary or not differences:
        return {}
    if len(differences) <= PERMUTATION_UP_TO:
        return {"change_test": f"sign-flip permutation ({PERMUTATIONS} seeded, exact up to 16 pairs)",
                "change_p": sign_flip_p(differences)}
    delta = paired_delta(differences)
    z = abs(delta.mean) / delta.stderr if delta.stderr else (0.0 if delta.mean == 0 else math.inf)
    return {"change_test": "paired z", "change_p": math.erfc(z / math.sqrt(2))}


def compare_runs(base_run: Run, cand_run: Run, policy: dict[str, BenchmarkPolicy], max_drop: float,
                 inconclusive: str, show_flips: bool = False, correction: str = "holm") -> dict[str, Any]:
    """The `comparison` section of results.json (schema in docs/gating.md)."""
    benchmarks = {}
    for name in sorted(cand_run.benchmarks):
        if name not in base_run.benchmarks:
            benchmarks[name] = {"tier": policy.get(name, BenchmarkPolicy()).tier, "comparable": False,
                                "verdict": NEW, "reason": "not in the baseline run: reported, not gated"}
            continue
        benchmarks[name] = compare_benchmark(name, base_run, cand_run, policy.get(name, BenchmarkPolicy()), max_drop,
                                             show_flips)
    family = correct(benchmarks, correction)
    status, exit_status = overall(benchmarks, inconclusive)
    return {"baseline": str(base_run.path), "max_drop": max_drop, "inconclusive": inconclusive,
            "correction": {"method": correction, "family": family}, "benchmarks": benchmarks, "verdict": status,
            "exit_status": exit_status}


def correct(benchmarks: dict[str, dict[str, Any]], correction: str) -> int:
    """Holm across the critical tier: a NO-GO of the interval alone stands only when its regression p-value,
    Holm-adjusted over the critical benchmarks compared, stays below 0.025 (else INCONCLUSIVE); the family's size."""
    tested = {name: entry["regression_p"] for name, entry in benchmarks.items()
              if entry["tier"] == "critical" and entry.get("regression_p") is not None}
    if correction != "holm":
        return len(tested)
    for name, adjusted in holm(tested).items():
        entry = benchmarks[name]
        entry["regression_p_holm"] = adjusted
        if entry["verdict"] == NO_GO and not {"verdict_reason", "until_decided"} & set(entry) and \
                adjusted >= ALPHA_ONE_SIDED:  # a sequential NO-GO was tested at alpha / family (sequential.design)
            entry["verdict"] = INCONCLUSIVE
            entry["verdict_reason"] = (f"NO-GO at 95 % alone, not after Holm's correction across {len(tested)} critical "
                               f"benchmarks (adjusted p {adjusted:.3g} >= {ALPHA_ONE_SIDED})")
            entry["samples_needed"] = None
    return len(tested)


def baseline_comparison(run: Any, benchmarks: dict[str, dict[str, Any]],
                        sample_files: dict[str, Path]) -> dict[str, Any]:
    """The in-run comparison (--baseline): this run's benchmark entries and samples against the baseline run."""
    base_run = read_run(Path(run.baseline).resolve(), "--baseline")
    return compare_runs(base_run, Run(Path("."), benchmarks, sample_files), run.policy(), run.max_drop,
                        run.inconclusive, run.show_flips, run.correction)


def comparison_failures(comparison: dict[str, Any]) -> list[GateFailure]:
    """A critical benchmark's NO-GO fails the gate; its INCONCLUSIVE, INSUFFICIENT or NOT COMPARABLE is
    inconclusive (exit status per --inconclusive)."""
    return [GateFailure(name, _gate_line(name, entry), inconclusive=entry["verdict"] != NO_GO)
            for name, entry in comparison["benchmarks"].items()
            if entry["tier"] == "critical" and entry["verdict"] not in (GO, NEW)]


def comparison_warnings(comparison: dict[str, Any]) -> list[str]:
    """A supporting benchmark's NO-GO: a warning line, never the exit status."""
    return [_gate_line(name, entry) for name, entry in comparison["benchmarks"].items()
            if entry["tier"] == "supporting" and entry["verdict"] == NO_GO]


def _gate_line(name: str, entry: dict[str, Any]) -> str:
    if not entry["comparable"]:
        return f"{name}: {NOT_COMPARABLE} with the baseline: {entry['reason']}"
    low, high = entry["ci95"]
    why = f": {entry['verdict_reason']}" if entry.get("verdict_reason") else ""
    return (f"{name}: {entry['verdict']} against the baseline: {entry['metric']} delta {entry['delta']:+.4f} "
            f"(95% CI {low:+.4f} to {high:+.4f}), max drop {entry['max_drop']:g}{why}{_endpoint_note(entry)}")


def inconclusive_exit_status(mode: str) -> int:
    return {"status": INCONCLUSIVE_STATUS, "pass": 0, "fail": 1}[mode]


def baseline_column(entry: dict[str, Any]) -> str:
    """The baseline's value and the verdict, for a benchmark's score line."""
    if not entry["comparable"]:
        return f"baseline: {entry['verdict']}"
    return f"baseline {_value(entry['baseline'])} delta {entry['delta']:+.4f} {entry['verdict']}"


def overall(benchmarks: dict[str, dict[str, Any]], inconclusive: str) -> tuple[str, int]:
    """Only critical benchmarks decide (a NEW one does not): any NO-GO is NO-GO (1); else any undecided one is INCONCLUSIVE
    (status 6, or 0 / 1 with --inconclusive pass / fail); else GO (0)."""
    critical = [entry["verdict"] for entry in benchmarks.values() if entry["tier"] == "critical"
                and entry["verdict"] != NEW]
    if NO_GO in critical:
        return NO_GO, 1
    if any(decided != GO for decided in critical):
        return INCONCLUSIVE, inconclusive_exit_status(inconclusive)
    return GO, 0


def lines(comparison: dict[str, Any]) -> list[str]:
    """One line per benchmark (plus flipped ids when listed), then the overall verdict."""
    rows = []
    for name, entry in comparison["benchmarks"].items():
        head = f"{name} [{entry['tier']}]"
        if not entry["comparable"]:
            rows.append(f"{head}: {entry['verdict']}: {entry['reason']}")
            continue
        flips = entry["flips"]
        low, high = entry["ci95"]
        text = (f"{head}: {entry['metric']} baseline {_value(entry['baseline'])} candidate "
                f"{_value(entry['candidate'])} delta {entry['delta']:+.4f} (95% CI {low:+.4f} to {high:+.4f}, "
                f"max drop {entry['max_drop']:g}) pairs={entry['pairs']} flips: {flips['right_to_wrong']} "
                f"right->wrong, {flips['wrong_to_right']} wrong->right")
        if entry["mcnemar_p"] is not None:
            text += f", McNemar p={entry['mcnemar_p']:.4g}"
        if entry.get("change_p") is not None:
            text += f", {entry['change_test'].split(' (')[0]} p={entry['change_p']:.4g}"
        if entry.get("stderr_clusters"):
            text += f", stderr clustered by category ({entry['stderr_clusters']})"
        if entry.get("mde80") is not None:
            text += f", MDE(80%) {entry['mde80']:.4f}"
        for name, label in (("tokens_per_item", "tokens/item"), ("latency_p95", "p95 latency")):
            shown = (entry.get("cost") or {}).get(name)
            if shown and shown["change"] is not None:
                text += f", {label} {shown['change']:+.1%}"
        text += f"  verdict: {entry['verdict']}"
        if entry.get("verdict_reason"):
            text += f" ({entry['verdict_reason']})"
        text += _endpoint_note(entry) + _sequential_note(entry)
        if entry["verdict"] == INCONCLUSIVE:
            needed = entry["samples_needed"]
            text += (" (no number of samples decides it: the delta sits on -max_drop)" if needed is None else
                     f" (about {needed} samples at the observed variance would decide it; "
                     f"{needed - entry['pairs']} more, or repeats that lower the per-sample variance)")
        elif entry["verdict"] == "INSUFFICIENT":
            text += " (fewer than 10 paired samples)"
        rows.append(text)
        for direction in ("right_to_wrong", "wrong_to_right"):
            ids = flips.get("ids", {}).get(direction)
            if ids:
                shown = ", ".join(f"{sample}/r{repeat}" for sample, repeat in ids)
                rows.append(f"  {direction.replace('_to_', '->')}: {shown}")
    correction = comparison.get("correction") or {}
    holm_note = f" (Holm across {correction['family']} critical benchmarks)" if correction.get(
        "method") == "holm" and correction.get("family", 0) > 1 else ""
    rows.append(f"comparison with {comparison['baseline']}: {comparison['verdict']}{holm_note}")
    return rows


def _sequential_note(entry: dict[str, Any]) -> str:
    """What --until-decided did for this benchmark: the look that decided (or why it stopped), what it took."""
    record = entry.get("until_decided")
    if not record:
        return ""
    decided = record.get("decided_at") is not None
    why = "" if decided else f" ({record.get('stopped') or 'stopped'})"
    return (f" (until-decided: {'decided' if decided else 'undecided'} after {record['extra_repeats']} extra "
            f"repeat(s) of at most {record['looks_planned'] - 1}{why}, {record['extra_requests']} extra requests; "
            f"z {'±inf' if record['z'] is None else format(record['z'], '+.3f')} against the {record['spending']} "
            f"boundary {record['boundary']:.3f})")


def _value(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def markdown(comparison: dict[str, Any]) -> str:
    """A regression report fit for a pull-request comment."""
    out = [f"## Regression report: **{comparison['verdict']}**", "",
           f"Baseline: `{comparison['baseline']}`", "",
           "| benchmark | tier | metric | baseline | candidate | delta | 95% CI | pairs | right→wrong | "
           "wrong→right | p | MDE (80%) | verdict |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    notes = []
    for name, entry in comparison["benchmarks"].items():
        if not entry["comparable"]:
            out.append(f"| {name} | {entry['tier']} | | | | | | | | | | | {entry['verdict']} |")
            notes.append(f"- {name}: {entry['verdict'].lower()}: {entry['reason']}")
            continue
        low, high = entry["ci95"]
        p = entry["mcnemar_p"] if entry["mcnemar_p"] is not None else entry.get("change_p")
        p = "" if p is None else f"{p:.4g}"
        mde = "" if entry.get("mde80") is None else f"{entry['mde80']:.4f}"
        out.append(f"| {name} | {entry['tier']} | {entry['metric']} | {_value(entry['baseline'])} | "
                   f"{_value(entry['candidate'])} | {entry['delta']:+.4f} | [{low:+.4f}, {high:+.4f}] | "
                   f"{entry['pairs']} | {entry['flips']['right_to_wrong']} | {entry['flips']['wrong_to_right']} | "
                   f"{p} | {mde} | {entry['verdict']} |")
        if entry.get("verdict_reason"):
            notes.append(f"- {name}: {entry['verdict_reason']}")
        if entry.get("until_decided"):
            notes.append(f"- {name}:{_sequential_note(entry)}")
        if entry["verdict"] == INCONCLUSIVE and entry["samples_needed"] is not None:
            notes.append(f"- {name}: about {entry['samples_needed']} samples would decide it at the observed variance")
    out += ["", *notes] if notes else []
    out.append("\nGO: the CI's lower bound is above -max_drop; NO-GO: its upper bound is below -max_drop"
               + (" (Holm-corrected across the critical benchmarks)." if (comparison.get("correction") or {}).get(
                   "method") == "holm" else ".") + " p: McNemar, or a sign-flip permutation test for non-binary "
               "differences; MDE: the smallest change detectable at 80 % power.")
    return "\n".join(out) + "\n"
