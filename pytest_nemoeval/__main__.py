"""`python -m pytest_nemoeval compare BASE_DIR CANDIDATE_DIR [...]`, `python -m pytest_nemoeval export DIR --to
TARGET [...]`, `python -m pytest_nemoeval grade RESULTS_DIR [...]` and `python -m pytest_nemoeval merge DIR... --into OUT`."""

from __future__ import annotations

import sys

USAGE = ("usage: python -m pytest_nemoeval compare BASE_DIR CANDIDATE_DIR [--policy RECIPE] "
         "[--format text|json|markdown] [--max-drop D] [--inconclusive status|pass|fail] [--show-flips]\n"
         "       python -m pytest_nemoeval export DIR --to mlflow|wandb|nemo-evaluator [...]\n"
         "       python -m pytest_nemoeval grade RESULTS_DIR [--set KEY=VALUE ...]\n"
         "       python -m pytest_nemoeval merge DIR... --into OUT [--allow-incomplete]")


def main(argv: list[str]) -> int:
    if argv and argv[0] == "compare":
        from pytest_nemoeval.compare.cli import main as compare

        return compare(argv[1:])
    if argv and argv[0] == "export":
        from pytest_nemoeval.export.cli import main as export

        return export(argv[1:])
    if argv and argv[0] == "grade":
        from pytest_nemoeval.regrade import main as grade

        return grade(argv[1:])
    if argv and argv[0] == "merge":
        from pytest_nemoeval.shard.merge import main as merge

        return merge(argv[1:])
    print(USAGE, file=sys.stderr)
    return 4


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
