"""The comparison of a candidate run with a baseline run: per benchmark the paired delta, flips, McNemar, the
verdict; the overall status and exit status; and the lines shown in the terminal, markdown and HTML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_nemoeval.compare.pairing import PER_SAMPLE_METRICS, differences, pair
from pytest_nemoeval.compare.policy import INCONCLUSIVE_STATUS, BenchmarkPolicy
from pytest_nemoeval.compare.runs import Run, read_run
from pytest_nemoeval.compare.stats import (GO, INCONCLUSIVE, NO_GO, mcnemar_exact, paired_delta, samples_needed,
                                           verdict)
from pytest_nemoeval.gate import GateFailure

NOT_COMPARABLE = "NOT COMPARABLE"


def compare_benchmark(name: str, base_run: Run, cand_run: Run, policy: BenchmarkPolicy, max_drop: float,
                      show_flips: bool) -> dict[str, Any]:
    base, cand = base_run.benchmarks[name], cand_run.benchmarks[name]
    drop = policy.max_drop if policy.max_drop is not None else max_drop
    metric = policy.metric or base.get("primary_metric") or "accuracy"
    entry: dict[str, Any] = {"tier": policy.tier, "metric": metric, "direction": policy.direction, "max_drop": drop}
    if metric not in PER_SAMPLE_METRICS:
        # other metrics (e.g. an instruction-level ratio) have no per-sample form in samples.jsonl
        entry["metric"] = "pass@1"
        entry["note"] = f"{metric} has no per-sample form in samples.jsonl; compared on pass@1 (the verdicts)"
    unchecked = base.get("unchecked") or cand.get("unchecked")
    if unchecked:
        entry["note"] = (entry["note"] + "; " if "note" in entry else "") + unchecked
    reasons = differences(base, cand)
    missing = [str(path) for path in (base_run.files[name], cand_run.files[name]) if not path.is_file()]
    if missing:
        reasons.append(f"no per-item results at {', '.join(missing)}")
    if not reasons:
        pairing = pair(base_run.items(name), cand_run.items(name), by_reward=entry["metric"] == "mean_reward")
        if pairing.prompt_changed:
            sample, repeat = pairing.prompt_changed[0]
            reasons.append(f"the prompt of {len(pairing.prompt_changed)} paired item(s) differs "
                           f"(first: sample {sample} repeat {repeat})")
    if reasons:
        return {**entry, "comparable": False, "verdict": NOT_COMPARABLE, "reason": "; ".join(reasons)}
    delta = paired_delta(pairing.differences)
    higher = policy.direction == "higher"
    decided = verdict(delta, drop, higher)
    n = delta.n
    entry.update({
        "comparable": True, "pairs": n, "paired_items": pairing.paired_items,
        "unpaired": {"baseline": pairing.base_items - pairing.paired_items,
                     "candidate": pairing.cand_items - pairing.paired_items},
        "baseline": sum(pairing.base_mean) / n if n else None, "candidate": sum(pairing.cand_mean) / n if n else None,
        "delta": delta.mean, "stderr": delta.stderr, "ci95": list(delta.ci95),
        "flips": {"right_to_wrong": len(pairing.worse), "wrong_to_right": len(pairing.better)},
        "mcnemar_p": mcnemar_exact(len(pairing.worse), len(pairing.better)) if pairing.one_verdict_each else None,
        "verdict": decided,
        "samples_needed": samples_needed(delta, drop, higher) if decided == INCONCLUSIVE else None})
    if show_flips:
        entry["flips"]["ids"] = {"right_to_wrong": [list(key) for key in pairing.worse],
                                 "wrong_to_right": [list(key) for key in pairing.better]}
    return entry


def compare_runs(base_run: Run, cand_run: Run, policy: dict[str, BenchmarkPolicy], max_drop: float,
                 inconclusive: str, show_flips: bool = False) -> dict[str, Any]:
    """The `comparison` section of results.json (schema in the README)."""
    benchmarks = {}
    for name in sorted(cand_run.benchmarks):
        if name not in base_run.benchmarks:
            benchmarks[name] = {"tier": policy.get(name, BenchmarkPolicy()).tier, "comparable": False,
                                "verdict": NOT_COMPARABLE, "reason": "not in the baseline run"}
            continue
        benchmarks[name] = compare_benchmark(name, base_run, cand_run, policy.get(name, BenchmarkPolicy()), max_drop,
                                             show_flips)
    status, exit_status = overall(benchmarks, inconclusive)
    return {"baseline": str(base_run.path), "max_drop": max_drop, "inconclusive": inconclusive,
            "benchmarks": benchmarks, "verdict": status, "exit_status": exit_status}


def baseline_comparison(run: Any, benchmarks: dict[str, dict[str, Any]],
                        sample_files: dict[str, Path]) -> dict[str, Any]:
    """The in-run comparison (--baseline): this run's benchmark entries and samples against the baseline run."""
    base_run = read_run(Path(run.baseline).resolve(), "--baseline")
    return compare_runs(base_run, Run(Path("."), benchmarks, sample_files), run.policy(), run.max_drop,
                        run.inconclusive, run.show_flips)


def comparison_failures(comparison: dict[str, Any]) -> list[GateFailure]:
    """A critical benchmark's NO-GO fails the gate; its INCONCLUSIVE, INSUFFICIENT or NOT COMPARABLE is
    inconclusive (exit status per --inconclusive)."""
    return [GateFailure(name, _gate_line(name, entry), inconclusive=entry["verdict"] != NO_GO)
            for name, entry in comparison["benchmarks"].items()
            if entry["tier"] == "critical" and entry["verdict"] != GO]


def comparison_warnings(comparison: dict[str, Any]) -> list[str]:
    """A supporting benchmark's NO-GO: a warning line, never the exit status."""
    return [_gate_line(name, entry) for name, entry in comparison["benchmarks"].items()
            if entry["tier"] == "supporting" and entry["verdict"] == NO_GO]


def _gate_line(name: str, entry: dict[str, Any]) -> str:
    if not entry["comparable"]:
        return f"{name}: {NOT_COMPARABLE} with the baseline: {entry['reason']}"
    low, high = entry["ci95"]
    return (f"{name}: {entry['verdict']} against the baseline: {entry['metric']} delta {entry['delta']:+.4f} "
            f"(95% CI {low:+.4f} to {high:+.4f}), max drop {entry['max_drop']:g}")


def inconclusive_exit_status(mode: str) -> int:
    return {"status": INCONCLUSIVE_STATUS, "pass": 0, "fail": 1}[mode]


def baseline_column(entry: dict[str, Any]) -> str:
    """The baseline's value and the verdict, for a benchmark's score line."""
    if not entry["comparable"]:
        return f"baseline: {NOT_COMPARABLE}"
    return f"baseline {_value(entry['baseline'])} delta {entry['delta']:+.4f} {entry['verdict']}"


def overall(benchmarks: dict[str, dict[str, Any]], inconclusive: str) -> tuple[str, int]:
    """Only critical benchmarks decide: any NO-GO is NO-GO (1); else any undecided one is INCONCLUSIVE
    (status 6, or 0 / 1 with --inconclusive pass / fail); else GO (0)."""
    critical = [entry["verdict"] for entry in benchmarks.values() if entry["tier"] == "critical"]
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
            rows.append(f"{head}: {NOT_COMPARABLE}: {entry['reason']}")
            continue
        flips = entry["flips"]
        low, high = entry["ci95"]
        text = (f"{head}: {entry['metric']} baseline {_value(entry['baseline'])} candidate "
                f"{_value(entry['candidate'])} delta {entry['delta']:+.4f} (95% CI {low:+.4f} to {high:+.4f}, "
                f"max drop {entry['max_drop']:g}) pairs={entry['pairs']} flips: {flips['right_to_wrong']} "
                f"right->wrong, {flips['wrong_to_right']} wrong->right")
        if entry["mcnemar_p"] is not None:
            text += f", McNemar p={entry['mcnemar_p']:.4g}"
        text += f"  verdict: {entry['verdict']}"
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
    rows.append(f"comparison with {comparison['baseline']}: {comparison['verdict']}")
    return rows


def _value(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def markdown(comparison: dict[str, Any]) -> str:
    """A regression report fit for a pull-request comment."""
    out = [f"## Regression report: **{comparison['verdict']}**", "",
           f"Baseline: `{comparison['baseline']}`", "",
           "| benchmark | tier | metric | baseline | candidate | delta | 95% CI | pairs | right→wrong | "
           "wrong→right | McNemar p | verdict |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    notes = []
    for name, entry in comparison["benchmarks"].items():
        if not entry["comparable"]:
            out.append(f"| {name} | {entry['tier']} | | | | | | | | | | {NOT_COMPARABLE} |")
            notes.append(f"- {name}: not comparable: {entry['reason']}")
            continue
        low, high = entry["ci95"]
        p = "" if entry["mcnemar_p"] is None else f"{entry['mcnemar_p']:.4g}"
        out.append(f"| {name} | {entry['tier']} | {entry['metric']} | {_value(entry['baseline'])} | "
                   f"{_value(entry['candidate'])} | {entry['delta']:+.4f} | [{low:+.4f}, {high:+.4f}] | "
                   f"{entry['pairs']} | {entry['flips']['right_to_wrong']} | {entry['flips']['wrong_to_right']} | "
                   f"{p} | {entry['verdict']} |")
        if entry["verdict"] == INCONCLUSIVE and entry["samples_needed"] is not None:
            notes.append(f"- {name}: about {entry['samples_needed']} samples would decide it at the observed variance")
    out += ["", *notes] if notes else []
    out.append("\nGO: the CI's lower bound is above -max_drop; NO-GO: its upper bound is below -max_drop.")
    return "\n".join(out) + "\n"
