"""`python -m pytest_nemoeval export DIR --to mlflow|wandb|nemo-evaluator`: export a finished run. Settings
not given on the command line are the run's own (results.json `config.export`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pytest_nemoeval.export import ExportError, check_target, export, read_run

USAGE_ERROR = 4  # as pytest's
SETTINGS = {"mlflow_tracking_uri": "URI", "mlflow_experiment": "NAME", "wandb_project": "NAME",
            "wandb_entity": "NAME", "wandb_dir": "DIR", "nemo_evaluator_dir": "DIR"}


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(prog="python -m pytest_nemoeval export",
                                    description="Export a finished run. Exit status: 0 exported, 1 an export "
                                                "failed, 4 usage error.")
    parse.add_argument("results_dir", metavar="DIR", help="results directory of a finished run")
    parse.add_argument("--to", action="append", required=True, metavar="TARGET",
                       help="mlflow, wandb or nemo-evaluator; repeatable")
    for key, metavar in SETTINGS.items():
        parse.add_argument("--" + key.replace("_", "-"), dest=key, metavar=metavar)
    return parse


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    results_dir = Path(args.results_dir).resolve()
    try:
        for target in args.to:
            check_target(target, "--to")
        settings = dict((read_run(results_dir).get("config") or {}).get("export") or {})
    except ExportError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return USAGE_ERROR
    settings.update({key: getattr(args, key) for key in SETTINGS if getattr(args, key) is not None})
    status = 0
    for target in args.to:
        try:
            print(f"exported: {export(results_dir, target, settings)}")
        except ExportError as exc:
            print(f"ERROR: {exc}", file=sys.stderr)
            status = 1
    return status
