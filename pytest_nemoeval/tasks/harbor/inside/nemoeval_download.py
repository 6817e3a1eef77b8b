"""Download a published task set with Harbor: `python nemoeval_download.py DATASET DIR`.

Runs inside Harbor's own Python. DATASET is a registry name (`terminal-bench@2.0`, `swebench-verified@1.0`),
fetched by `harbor download DATASET -o DIR`; or `terminal-bench-v1`: Terminal-Bench v1's repository cloned and
each task mapped to Harbor's format by Harbor's TerminalBenchMapper, as NeMo Evaluator 0.3 does for Terminal-Bench
Hard (nemo_evaluator/benchmarks/terminal_bench_v1.py: the `original-tasks/` directory of the repository's HEAD).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

TB_V1_GIT = "https://github.com/laude-institute/terminal-bench.git"


def terminal_bench_v1(directory: Path) -> None:
    from harbor.mappers.terminal_bench import TerminalBenchMapper

    mapper = TerminalBenchMapper()
    with tempfile.TemporaryDirectory() as scratch:
        clone = Path(scratch) / "repo"
        subprocess.run(["git", "clone", "-q", "--depth", "1", TB_V1_GIT, str(clone)], check=True)
        for task in sorted(path.parent for path in (clone / "original-tasks").glob("*/task.yaml")):
            mapper._map_task(task, directory / task.name)


def main(dataset: str, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if dataset == "terminal-bench-v1":
        terminal_bench_v1(directory)
    else:
        harbor = Path(sys.executable).parent / "harbor"
        subprocess.run([str(harbor), "download", dataset, "-o", str(directory), "--overwrite"], check=True)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
