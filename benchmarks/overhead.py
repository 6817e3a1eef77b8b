"""Per-item cost of the plugin against pytest's own per-item cost (instant mock, nothing to wait for).

    python benchmarks/overhead.py [--items 5000] [--rounds 5]

Both kinds of run are differenced against a 10-item run of the same kind, so start-up and the plugin's
imports cancel out: what is left is the cost of one more item. The runs are interleaved, round after
round, and each takes its best round (a shared machine only ever adds time).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import Mock, check, project, run_pytest  # noqa: E402

PLAIN = '''
import os
import pytest

@pytest.mark.parametrize("index", range(int(os.environ["PLAIN_ITEMS"])))
def test_plain(index):
    assert index >= 0
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sizes = (10, args.items)
    best: dict[tuple[str, int], float] = {}
    with Mock() as mock, project(sizes[0]) as small, project(sizes[1]) as large, \
            tempfile.TemporaryDirectory() as plain_dir:
        (Path(plain_dir) / "test_plain.py").write_text(PLAIN)
        for _ in range(args.rounds):
            for size, directory in zip(sizes, (small, large)):
                run = check(run_pytest(directory, "suites/", "-q", "--endpoint", mock.url, "--data-dir", "data",
                                       "--parallelism", "512", "--no-cache"))
                best[("plugin", size)] = min(best.get(("plugin", size), run.wall), run.wall)
                os.environ["PLAIN_ITEMS"] = str(size)
                run = check(run_pytest(Path(plain_dir), "test_plain.py", "-q", "-p", "no:nemoeval"))
                best[("plain", size)] = min(best.get(("plain", size), run.wall), run.wall)
    per_item = {kind: (best[(kind, sizes[1])] - best[(kind, sizes[0])]) / (sizes[1] - sizes[0])
                for kind in ("plugin", "plain")}
    print(f"{args.items} items, best of {args.rounds}: plugin {best[('plugin', sizes[1])]:.2f} s, "
          f"plain pytest {best[('plain', sizes[1])]:.2f} s")
    print(f"per item: plugin {1000 * per_item['plugin']:.2f} ms, plain pytest {1000 * per_item['plain']:.2f} ms, "
          f"ratio {per_item['plugin'] / per_item['plain']:.2f}; for MMLU-Pro's 12,032 items the plugin adds "
          f"{12032 * (per_item['plugin'] - per_item['plain']):.1f} s to a run")


if __name__ == "__main__":
    main()
