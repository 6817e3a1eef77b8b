"""Per-item cost of the plugin against pytest's own per-item cost (instant mock, nothing to wait for).

    python benchmarks/overhead.py [--items 5000]

Both runs are differenced against a 10-item run of the same kind, so start-up and collection of the
plugin's imports cancel out: what is left is the cost of one more item.
"""

from __future__ import annotations

import argparse
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


def plugin_per_item(items: int) -> tuple[float, float]:
    walls = []
    with Mock() as mock:
        for count in (10, items):
            with project(count) as directory:
                walls.append(check(run_pytest(directory, "suites/", "-q", "--endpoint", mock.url, "--data-dir",
                                              "data", "--parallelism", "512", "--no-cache")).wall)
    return (walls[1] - walls[0]) / (items - 10), walls[1]


def plain_per_item(items: int) -> tuple[float, float]:
    import os

    walls = []
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "test_plain.py").write_text(PLAIN)
        for count in (10, items):
            os.environ["PLAIN_ITEMS"] = str(count)
            walls.append(check(run_pytest(Path(directory), "test_plain.py", "-q", "-p", "no:nemoeval")).wall)
    return (walls[1] - walls[0]) / (items - 10), walls[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5000)
    n = parser.parse_args().items
    ours, ours_wall = plugin_per_item(n)
    plain, plain_wall = plain_per_item(n)
    print(f"{n} items: plugin {ours_wall:.2f} s, plain pytest {plain_wall:.2f} s")
    print(f"per item: plugin {1000 * ours:.2f} ms, plain pytest {1000 * plain:.2f} ms, ratio {ours / plain:.2f}; "
          f"for MMLU-Pro's 12,032 items the plugin adds {12032 * (ours - plain):.1f} s to a run")


if __name__ == "__main__":
    main()
