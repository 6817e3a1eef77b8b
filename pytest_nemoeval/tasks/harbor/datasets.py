"""Harbor task sets as rows: each task directory (task.toml, instruction.md, environment/, tests/, solution/) is
one row `{"name", "category", "difficulty", "files": {path: text}, "binary": {path: base64}}`, so that a task set
is a JSONL file like any other benchmark's (`--data-dir DIR/<benchmark>.jsonl`), its content hashed into the
run's provenance, and rebuilt as a directory for Harbor (harbor.materialize).

A real run downloads the published set with Harbor itself, in its own environment, once, into the cache
(~/.cache/pytest-nemoeval/harbor-datasets): `harbor download <dataset>` from Harbor's registry, or for Terminal-Bench
Hard, Terminal-Bench v1's repository mapped by Harbor's TerminalBenchMapper and filtered to the 47 tasks, as NeMo
Evaluator 0.3's `terminal-bench-hard` does (nemo_evaluator/benchmarks/terminal_bench_hard.py).
"""

from __future__ import annotations

import base64
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_nemoeval.errors import DataError
from pytest_nemoeval.venvs import cache_root

SKIP = {".git", "__pycache__", ".complete"}


def task_row(directory: Path) -> dict[str, Any]:
    config = tomllib.loads((directory / "task.toml").read_text())
    metadata = config.get("metadata") or {}
    files: dict[str, str] = {}
    binary: dict[str, str] = {}
    for path in sorted(directory.rglob("*")):
        if path.is_dir() or SKIP & set(path.relative_to(directory).parts):
            continue
        relative = path.relative_to(directory).as_posix()
        content = path.read_bytes()
        try:
            files[relative] = content.decode()
        except UnicodeDecodeError:
            binary[relative] = base64.b64encode(content).decode()
    row = {"name": (config.get("task") or {}).get("name") or directory.name, "category": metadata.get("category"),
           "difficulty": metadata.get("difficulty"), "files": files}
    if binary:
        row["binary"] = binary
    return row


@dataclass(frozen=True)
class HarborDataset:
    """A published Harbor task set: `dataset` as Harbor's registry names it (terminal-bench@2.0), or
    `terminal-bench-v1` for v1's repository mapped to Harbor's format; `only`: the task names kept."""

    dataset: str
    only: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"Harbor's {self.dataset}" + (f" ({len(self.only)} tasks)" if self.only else "")

    def load(self, limit: int | None) -> list[dict[str, Any]]:
        directory = self._download()
        tasks = sorted(path.parent for path in directory.glob("**/task.toml"))
        if self.only:
            tasks = [task for task in tasks if task.name in self.only]
        if not tasks:
            raise DataError(f"{self.describe()}: no tasks in {directory}; remove it to download again")
        return [task_row(task) for task in tasks[:limit]]

    def _download(self) -> Path:
        from pytest_nemoeval.tasks.harbor import INSIDE, harbor_python

        directory = cache_root() / "harbor-datasets" / self.dataset.replace("@", "-").replace("/", "__")
        if (directory / ".complete").is_file():
            return directory
        done = subprocess.run([str(harbor_python()), str(INSIDE / "nemoeval_download.py"), self.dataset,
                               str(directory)], capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise DataError(f"{self.describe()}: the download failed ({last}); it needs the internet (Harbor's "
                            "registry, GitHub); or give the tasks as --data-dir DIR/<benchmark>.jsonl")
        (directory / ".complete").write_text(self.dataset)
        return directory
