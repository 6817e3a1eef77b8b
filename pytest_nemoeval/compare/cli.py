"""`python -m pytest_nemoeval compare BASE CANDIDATE`: the in-run comparison on two finished runs (either may be a
NeMo Evaluator 0.3 run)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest

from pytest_nemoeval.compare.policy import (CORRECTIONS, DEFAULT_MAX_DROP, INCONCLUSIVE_MODES, INCONCLUSIVE_STATUS,
                                            PolicyError, correction_method, inconclusive_mode, max_drop_value,
                                            policy_from_recipe)
from pytest_nemoeval.compare.report import compare_runs, lines, markdown
from pytest_nemoeval.compare.runs import UnreadableRun, read_run

USAGE_ERROR = 4  # as pytest's


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="python -m pytest_nemoeval compare",
        description="Compare a candidate run with a baseline run (paired by sample id and repeat). Exit status: "
                    f"0 GO, 1 NO-GO of a critical benchmark, {INCONCLUSIVE_STATUS} INCONCLUSIVE, 4 usage error.")
    parse.add_argument("baseline", metavar="BASE", help="results directory of the baseline run, or a NeMo Evaluator "
                       "0.3 run directory or eval-*.json bundle")
    parse.add_argument("candidate", metavar="CANDIDATE", help="results directory of the candidate run, or a NeMo "
                       "Evaluator 0.3 run directory or eval-*.json bundle")
    parse.add_argument("--policy", metavar="RECIPE", help="recipe whose benchmarks.<name>.gate (and max_drop, "
                       "inconclusive) set the policy")
    parse.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    parse.add_argument("--max-drop", metavar="D",
                       help=f"largest accepted drop, a fraction (default {DEFAULT_MAX_DROP})")
    parse.add_argument("--inconclusive", choices=INCONCLUSIVE_MODES, help=f"INCONCLUSIVE exits with status "
                       f"{INCONCLUSIVE_STATUS} (default), or passes (0), or fails (1)")
    parse.add_argument("--correction", choices=CORRECTIONS, help="across the critical benchmarks: holm (default; a "
                       "NO-GO must hold after Holm's family-wise correction) or none")
    parse.add_argument("--show-flips", action="store_true", help="list the ids of the flipped samples")
    return parse


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        recipe = {}
        if args.policy:
            from pytest_nemoeval.config import load_recipe

            recipe = load_recipe(args.policy)
        policy = policy_from_recipe(recipe, f"recipe {args.policy}")
        drop = args.max_drop if args.max_drop is not None else recipe.get("max_drop", DEFAULT_MAX_DROP)
        max_drop = max_drop_value(drop, "--max-drop")
        correction = correction_method(args.correction or recipe.get("correction", "holm"), "--correction")
        mode = inconclusive_mode(args.inconclusive or recipe.get("inconclusive", "status"), "--inconclusive")
        base_run = read_run(Path(args.baseline).resolve(), "baseline")
        cand_run = read_run(Path(args.candidate).resolve(), "candidate")
    except (UnreadableRun, PolicyError, pytest.UsageError) as exc:  # UsageError: load_recipe's
        print(f"ERROR: {exc}", file=sys.stderr)
        return USAGE_ERROR
    comparison = compare_runs(base_run, cand_run, policy, max_drop, mode, args.show_flips, correction)
    if args.format == "json":
        print(json.dumps(comparison, indent=2))
    elif args.format == "markdown":
        print(markdown(comparison), end="")
    else:
        print("\n".join(lines(comparison)))
    return int(comparison["exit_status"])
