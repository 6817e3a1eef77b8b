"""How long does `python -m pytest_nemoeval merge` take, and how much memory, for a large split run?

    python benchmarks/merge.py [--items 1000000] [--shards 8] [--repeats 16]

Writes the results directories of N jobs of a synthetic MMLU-Pro run (items = samples x repeats, rows as a run
writes them, with a 300-character response each), then merges them in a fresh process and prints its wall time,
its CPU time, its peak RSS, and both per 1,000 items (CPU, not wall time, on a shared machine). The tallies (one small tuple per item) are what grows with the run: the
samples rows themselves are streamed through, never held.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATEGORIES = ["math", "physics", "law", "history", "biology", "other"]
RESPONSE = "Let me work through this. " * 11 + "Answer: \\boxed{B}"


def write_jobs(base: Path, items: int, shards: int, repeats: int) -> list[Path]:
    samples = items // repeats
    config = {"shard": None, "results_dir": "run", "repeats": repeats, "thresholds": [], "max_error_rate": 0.01,
              "gate_on": "point", "baseline": None, "export": {"to": []}, "generation": {}, "benchmarks": {}}
    dirs = []
    per_job = -(-samples // shards)
    for job in range(shards):
        directory = base / f"shard-{job}"
        (directory / "mmlu_pro").mkdir(parents=True)
        first, last = job * per_job, min(samples, (job + 1) * per_job)
        with open(directory / "mmlu_pro" / "samples.jsonl", "w") as rows:
            for index in range(first, last):
                for repeat in range(repeats):
                    correct = (index * 7 + repeat * 3) % 5 < 3
                    answer = "B" if correct else "C"
                    rows.write(json.dumps({
                        "sample_id": index, "sample_index": index, "repeat": repeat, "prompt_hash": "0" * 16,
                        "request_key": "1" * 64, "correct": correct, "extracted": answer, "expected": "B",
                        "category": CATEGORIES[index % 6], "verdict": "correct" if correct else "incorrect",
                        "finish_reason": "stop", "tokens": 90, "latency": 1.5, "response": RESPONSE,
                        "reasoning": None}) + "\n")
        count = (last - first) * repeats
        entry = {"samples": last - first, "repeats": repeats, "items": count, "errors": 0, "skipped": 0,
                 "skipped_samples": 0, "primary_metric": "accuracy", "metrics": {}, "thresholds": [],
                 "dataset": {"rows": samples, "rows_sha256": "2" * 64}, "generation": {},
                 "categories": {"field": "category", "metric": "accuracy", "by": {}}}
        document = {"schema": "pytest-nemoeval/results/1", "model": "m", "endpoint": "http://x/v1",
                    "config": {**config, "shard": f"{job + 1}/{shards}", "results_dir": str(directory)},
                    "provenance": {"plugin_version": "0", "python": "3", "git_sha": None,
                                   "started": "2026-01-01T00:00:00+00:00", "finished": "2026-01-01T01:00:00+00:00"},
                    "benchmarks": {"mmlu_pro": entry}, "gate": {"passed": True, "failures": []},
                    "shard": {"index": job + 1, "count": shards, "selection": "s", "selected": items,
                              "items": {"mmlu_pro": count}, "stopped": None, "skipped": {},
                              "suites": {"mmlu_pro": str(ROOT / "suites" / "test_mmlu_pro.py")}}}
        (directory / "results.json").write_text(json.dumps(document))
        dirs.append(directory)
    return dirs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        base = Path(temporary)
        dirs = write_jobs(base, args.items, args.shards, args.repeats)
        size = sum((directory / "mmlu_pro" / "samples.jsonl").stat().st_size for directory in dirs)
        started = time.perf_counter()
        merged = subprocess.run([sys.executable, "-m", "pytest_nemoeval", "merge", *map(str, dirs),
                                 "--into", str(base / "merged")], capture_output=True, text=True, cwd=ROOT)
        seconds = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_mb, cpu = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
        if merged.returncode != 0:
            sys.exit(f"merge failed ({merged.returncode}): {merged.stderr.strip()}")
        document = json.loads((base / "merged" / "results.json").read_text())
        assert document["benchmarks"]["mmlu_pro"]["items"] == args.items // args.repeats * args.repeats
    thousands = args.items / 1000
    print(f"merge of {args.shards} jobs, {args.items:,} items ({size / 2**20:.0f} MB of samples rows): "
          f"{seconds:.1f} s wall, {cpu:.1f} s CPU ({cpu / thousands * 1000:.1f} ms CPU per 1,000 items), peak RSS {peak_mb:.0f} MB "
          f"({peak_mb / thousands * 1024:.0f} KB per 1,000 items)")


if __name__ == "__main__":
    main()
