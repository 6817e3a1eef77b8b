"""Does memory stay flat as the item count grows? Peak RSS of whole runs, plugin vs plain pytest.

    python benchmarks/memory.py [--small 5000] [--large 50000]

pytest itself keeps every item and report, so its RSS grows with the item count whatever a plugin does;
the number that matters is the plugin's growth beyond plain pytest's, per 1,000 items. Responses are
long here (16 KB each) so that holding them in memory would show as 16 MB per 1,000 items; what the
plugin does keep per item is the dataset row (about 1.5 KB here), the small verdict record and metrics.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import Mock, check, project, run_pytest  # noqa: E402
from benchmarks.overhead import PLAIN  # noqa: E402

ANSWER_KB = 16
ANSWER = "Let me think step by step. " * (ANSWER_KB * 1024 // 27) + "The answer is \\\\boxed{B}."


def plugin_peak(items: int, mock: Mock) -> float:
    with project(items) as directory:
        return check(run_pytest(directory, "suites/", "-q", "--endpoint", mock.url, "--data-dir", "data",
                                "--parallelism", "512", "--no-cache")).peak_rss_mb


def plain_peak(items: int) -> float:
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "test_plain.py").write_text(PLAIN)
        os.environ["PLAIN_ITEMS"] = str(items)
        return check(run_pytest(Path(directory), "test_plain.py", "-q", "-p", "no:nemoeval")).peak_rss_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=5000)
    parser.add_argument("--large", type=int, default=50000)
    args = parser.parse_args()
    with Mock("--answer", ANSWER) as mock:
        ours = [plugin_peak(count, mock) for count in (args.small, args.large)]
    plain = [plain_peak(count) for count in (args.small, args.large)]
    per_k = 1000 / (args.large - args.small)
    print(f"peak RSS, {args.small} -> {args.large} items: plugin {ours[0]:.0f} -> {ours[1]:.0f} MB, "
          f"plain pytest {plain[0]:.0f} -> {plain[1]:.0f} MB")
    print(f"growth per 1,000 items: plugin {(ours[1] - ours[0]) * per_k:.2f} MB, plain pytest "
          f"{(plain[1] - plain[0]) * per_k:.2f} MB; the plugin's own: "
          f"{((ours[1] - ours[0]) - (plain[1] - plain[0])) * per_k:.2f} MB per 1,000 items "
          f"(responses held in memory would add {ANSWER_KB * 1000 / 1024:.1f} MB)")


if __name__ == "__main__":
    main()
