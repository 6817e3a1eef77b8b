"""`--shard K/N`: which of the selected items a job runs. Deterministic (the same selection gives the same split
in every job, every xdist worker and every rerun), and balanced by expected cost.

Each benchmark is cut into N contiguous slices (items in sample, repeat order) of equal expected cost, so every
job gets about 1/N of every benchmark (an estimate that is off for one benchmark is off for every job alike)
and a sample's repeats stay together (the server's prefix cache serves them). The costliest slice of a
benchmark goes to the job with the least cost so far, so many small benchmarks do not pile up on job 1.
An item's expected cost is its tokens: prompt (characters / 4) plus its reply budget (max_new_tokens).
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any, Mapping, Sequence

import pytest

SLURM = "slurm"  # --shard slurm: this array task's part (SLURM_ARRAY_TASK_ID of SLURM_ARRAY_TASK_COUNT)
UNCAPPED_REPLY = 32768  # tokens expected of a reply without max_new_tokens (a long reasoning reply)
CHARS_PER_TOKEN = 4


def shard_value(value: Any) -> str:
    """The option's converter: `K/N` (1 <= K <= N) or `slurm`, as given (resolved by `resolve_shard`)."""
    text = str(value).strip()
    if text.lower() == SLURM:
        return SLURM
    match = re.fullmatch(r"(\d+)\s*/\s*(\d+)", text)
    if match is None or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise pytest.UsageError(f"--shard must be K/N with 1 <= K <= N (e.g. 1/8: the first of 8 jobs), or "
                                f"slurm (this job array task's part), got {value!r}")
    return f"{int(match.group(1))}/{int(match.group(2))}"


def resolve_shard(value: str, environ: Mapping[str, str] = os.environ) -> str:
    """`slurm` becomes this array task's `K/N`. Task ids may start anywhere (`--array=0-7` or `--array=1-8`):
    K = SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN + 1 (MIN taken as 0 when unset), N = SLURM_ARRAY_TASK_COUNT;
    the ids must be contiguous (no step, no list with gaps)."""
    if value != SLURM:
        return value
    names = ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT")
    missing = [name for name in names if not environ.get(name)]
    if missing:
        raise pytest.UsageError(f"--shard slurm: {' and '.join(missing)} not set: run inside a SLURM job array "
                                "(sbatch --array=0-7 ...), or pass --shard K/N")
    try:
        task, count = int(environ["SLURM_ARRAY_TASK_ID"]), int(environ["SLURM_ARRAY_TASK_COUNT"])
        first = int(environ.get("SLURM_ARRAY_TASK_MIN") or 0)
    except ValueError:
        raise pytest.UsageError("--shard slurm: SLURM_ARRAY_TASK_ID, _MIN and _COUNT must be whole numbers, got "
                                f"{[environ.get(name) for name in (*names, 'SLURM_ARRAY_TASK_MIN')]}") from None
    index = task - first + 1
    if count < 1 or not 1 <= index <= count:
        raise pytest.UsageError(f"--shard slurm: task {task} of an array of {count} starting at {first} is not "
                                "one of a contiguous range: use --array=0-<N-1> (no step, no gaps)")
    return f"{index}/{count}"


def parse(value: str) -> tuple[int, int]:
    index, count = value.split("/")
    return int(index), int(count)


def assign(costs: Mapping[str, Sequence[int]], count: int) -> dict[str, list[int]]:
    """Each benchmark's items (their costs, in sample, repeat order) -> the job (0-based) of each item."""
    load = [0] * count
    jobs: dict[str, list[int]] = {}
    for name in sorted(costs):
        items = [max(0, cost) for cost in costs[name]]
        if not any(items):
            items = [1] * len(items)  # nothing costs anything (all skipped): split by count
        total, running = sum(items), 0
        slices = []
        for cost in items:  # the slice holding the item's midpoint (integers: the same split on every machine)
            slices.append(min(count - 1, (2 * running + cost) * count // (2 * total)) if total else 0)
            running += cost
        slice_cost = [0] * count
        for piece, cost in zip(slices, items):
            slice_cost[piece] += cost
        by_cost = sorted(range(count), key=lambda piece: (-slice_cost[piece], piece))
        by_load = sorted(range(count), key=lambda job: (load[job], job))
        job_of = dict(zip(by_cost, by_load))
        for piece in range(count):
            load[job_of[piece]] += slice_cost[piece]
        jobs[name] = [job_of[piece] for piece in slices]
    return jobs


def take(part: str, entries: list[tuple[str, int, int, int, Any]]) -> tuple[set[Any], dict[str, Any]]:
    """Every selected item as (benchmark, sample, repeat, cost, item) -> this job's items, and what its
    results.json records of the split (results.json `shard`): which part, the whole selection's digest and size,
    the items of this part per benchmark."""
    index, count = parse(part)
    by_benchmark: dict[str, list[tuple[int, int, int, Any]]] = {}
    for name, sample, repeat, cost, item in entries:
        by_benchmark.setdefault(name, []).append((sample, repeat, cost, item))
    for listed in by_benchmark.values():
        listed.sort(key=lambda entry: entry[:2])
    jobs = assign({name: [entry[2] for entry in listed] for name, listed in by_benchmark.items()}, count)
    ours = {entry[3] for name, listed in by_benchmark.items() for entry, job in zip(listed, jobs[name])
            if job == index - 1}
    planned = {name: sum(job == index - 1 for job in jobs[name]) for name in sorted(by_benchmark)}
    selection = selection_digest([(name, entry[0], entry[1]) for name, listed in by_benchmark.items()
                                  for entry in listed])
    return ours, {"index": index, "count": count, "selection": selection, "selected": len(entries),
                  "items": {name: number for name, number in planned.items() if number}}


def item_cost(prompt_chars: int, generation: dict[str, Any], generative: bool) -> int:
    budget = generation.get("max_new_tokens")
    reply = int(budget) if budget else (UNCAPPED_REPLY if generative else 0)
    return prompt_chars // CHARS_PER_TOKEN + reply


def selection_digest(refs: list[tuple[str, int, int]]) -> str:
    """The whole run's selection (every job's items): jobs that selected differently (-k, -m, paths, limits)
    cannot be merged."""
    digest = hashlib.sha256()
    for name, index, repeat in sorted(refs):
        digest.update(f"{name}\0{index}\0{repeat}\n".encode())
    return digest.hexdigest()


def prompt_chars(prompt: Any) -> int:
    """The characters of a request's text (chat messages, a prompt, or log-likelihood pairs)."""
    if isinstance(prompt, str):
        return len(prompt)
    if isinstance(prompt, dict):
        return sum(prompt_chars(value) for value in prompt.values())
    if isinstance(prompt, (list, tuple)):
        return sum(prompt_chars(value) for value in prompt)
    return 0
