"""`python -m pytest_nemoeval compare BASE_DIR CANDIDATE_DIR [...]` (the only command)."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "compare":
        print("usage: python -m pytest_nemoeval compare BASE_DIR CANDIDATE_DIR [--policy RECIPE] "
              "[--format text|json|markdown] [--max-drop D] [--inconclusive status|pass|fail] [--show-flips]",
              file=sys.stderr)
        return 4
    from pytest_nemoeval.compare.cli import main as compare

    return compare(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
