"""Wall time and peak RSS of `python -m pytest_nemoeval compare` on two synthetic 50,000-item result dirs.

    python benchmarks/compare.py [--items 50000] [--dir /tmp/nemoeval-compare]

Each row carries a response of ~1 kB, as a real samples.jsonl does, so the files are ~60 MB each: streaming
them (not loading them) is what keeps the peak RSS small.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def synthesize(directory: Path, items: int, flip_every: int, seed: int) -> None:
    rng = random.Random(seed)
    bench = directory / "synthetic"
    bench.mkdir(parents=True, exist_ok=True)
    dataset = {"source": "synthetic", "rows": items, "rows_sha256": "r" * 64, "prompts_sha256": "p" * 64}
    document = {"schema": "pytest-nemoeval/results/1", "benchmarks": {"synthetic": {
        "samples": items, "repeats": 1, "items": items, "errors": 0, "primary_metric": "accuracy",
        "dataset": dataset, "generation": {"temperature": 0.0, "max_new_tokens": 4096}, "metrics": {}}}}
    (directory / "results.json").write_text(json.dumps(document))
    text = "lorem ipsum " * 85
    with open(bench / "samples.jsonl", "w", encoding="utf-8") as handle:
        for index in range(items):
            correct = (index % 3 != 0) != (flip_every and index % flip_every == 0 and rng.random() < 0.5)
            handle.write(json.dumps({"sample_id": index, "repeat": 0, "prompt_hash": f"{index:016x}",
                                     "response": text, "extracted": "B", "expected": "B",
                                     "correct": correct, "verdict": "correct" if correct else "incorrect"}) + "\n")


def main() -> None:
    parse = argparse.ArgumentParser()
    parse.add_argument("--items", type=int, default=50_000)
    parse.add_argument("--dir", default="/tmp/nemoeval-compare")
    args = parse.parse_args()
    root = Path(args.dir)
    synthesize(root / "base", args.items, 0, 1)
    synthesize(root / "candidate", args.items, 7, 2)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest_nemoeval", "compare", str(root / "base"),
                           str(root / "candidate")], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    size = (root / "base" / "synthetic" / "samples.jsonl").stat().st_size
    print(done.stdout, end="")
    print(done.stderr, end="", file=sys.stderr)
    print(f"compare of 2 x {args.items} items ({size / 1e6:.0f} MB samples.jsonl each): exit {done.returncode}, "
          f"wall {wall:.2f} s, peak RSS {peak_kib / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
