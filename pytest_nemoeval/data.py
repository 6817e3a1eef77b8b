"""Where a suite's rows come from: the DataSource protocol, the HF hub loader, and the compact row store.

`Suite.data` is a DataSource (or a function of the suite's data options that returns one). `--data-dir DIR`
replaces any source by DIR/<benchmark>.jsonl in the source's own schema (read_jsonl).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

from pytest_nemoeval.errors import DataError


@runtime_checkable
class DataSource(Protocol):
    """What `Suite.data` accepts: the hub (HubDataset), a package that ships the rows, a set of files."""

    def describe(self) -> str:
        """One phrase naming the source, for messages: "TIGER-Lab/MMLU-Pro (split test)"."""
        ...

    def load(self, limit: int | None) -> Sequence[dict[str, Any]]:
        """The rows in the source's own schema, the first `limit` of them (all with None); DataError on failure."""
        ...


def at_revision(source: DataSource, revision: str) -> DataSource:
    """The source at another revision (recipe `benchmarks.<name>.data.revision`), where it has revisions."""
    move = getattr(source, "at", None)
    if move is None:
        raise DataError(f"{source.describe()} has no revisions to choose from: drop data.revision")
    return move(revision)


@dataclass(frozen=True)
class HubDataset(DataSource):
    """A dataset on the HF hub, loaded with `datasets`; `--data-dir` replaces it by DIR/<benchmark>.jsonl."""

    path: str
    name: str | None = None
    split: str = "test"
    revision: str | None = None

    def describe(self) -> str:
        config = f", config {self.name}" if self.name else ""
        revision = f", revision {self.revision[:12]}" if self.revision else ""
        return f"{self.path} (split {self.split}{config}{revision})"

    def at(self, revision: str) -> "HubDataset":
        return replace(self, revision=revision)

    def load(self, limit: int | None) -> Sequence[dict[str, Any]]:
        return load_dataset(self.describe(), limit, self.path, self.name, split=self.split, revision=self.revision)


@dataclass(frozen=True)
class HubConfigs(DataSource):
    """Several configs of one hub dataset (e.g. one per language), one after another in the order given; with
    `tag`, each row also gets its config's name in that field (what --data-dir rows then carry too)."""

    path: str
    names: tuple[str, ...]
    split: str = "test"
    tag: str | None = None
    revision: str | None = None

    def describe(self) -> str:
        revision = f", revision {self.revision[:12]}" if self.revision else ""
        return f"{self.path} (split {self.split}, configs {', '.join(self.names)}{revision})"

    def at(self, revision: str) -> "HubConfigs":
        return replace(self, revision=revision)

    def load(self, limit: int | None) -> Sequence[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for name in self.names:
            if limit is not None and len(rows) >= limit:
                break
            config = HubDataset(self.path, name, self.split, self.revision)
            left = None if limit is None else limit - len(rows)
            rows += [{**row, self.tag: name} if self.tag else dict(row) for row in config.load(left)]
        return rows


def load_dataset(description: str, limit: int | None, *args: Any, **kwargs: Any) -> Sequence[dict[str, Any]]:
    """`datasets.load_dataset(*args, **kwargs)`, its first `limit` rows; any failure is one DataError line."""
    try:
        import datasets

        dataset = datasets.load_dataset(*args, **kwargs)
    except Exception as exc:  # datasets raises many types; the user needs one line either way
        if _is_gated(exc):
            path = args[0]
            raise DataError(f"{path} is a gated dataset on the HF hub: accept its terms at "
                            f"https://huggingface.co/datasets/{path} and export HF_TOKEN (or use --data-dir)") from None
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise DataError(f"could not load {description} through datasets: {reason}") from None
    return dataset if limit is None else dataset.select(range(min(limit, len(dataset))))


def _is_gated(exc: BaseException | None) -> bool:
    """huggingface_hub's GatedRepoError, or the 401/403 that `datasets` turns it into, anywhere in the chain."""
    while exc is not None:
        text = str(exc).lower()
        if type(exc).__name__ == "GatedRepoError" or re.search(r"gated|authenticat|\b40[13]\b", text):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class Rows(Sequence[dict[str, Any]]):
    """Dataset rows kept compact (one JSON text each, a fifth of the size of the dicts) and parsed on
    access; the last row parsed is kept, since the repeats of a sample are consecutive items."""

    def __init__(self, encoded: list[bytes]) -> None:
        self._encoded = encoded
        self._last: tuple[int, dict[str, Any]] | None = None
        self.origin: dict[str, Any] = {}  # where they came from: {"source": ..., "revision": ...} (Suite.load_rows)
        self.examples: Rows | None = None  # a harness task's few-shot split, and each row's examples in it
        self.shots: list[list[int]] = []

    def __len__(self) -> int:
        return len(self._encoded)

    def __getitem__(self, index: int) -> dict[str, Any]:  # type: ignore[override]
        if self._last is None or self._last[0] != index:
            self._last = (index, json.loads(self._encoded[index]))
        return self._last[1]

    def fingerprint(self) -> str:
        """sha256 of the rows used, in order (each as JSON text): two runs on different data differ here."""
        digest = hashlib.sha256()
        for encoded in self._encoded:
            digest.update(json.dumps(json.loads(encoded), sort_keys=True, ensure_ascii=False).encode() + b"\n")
        return digest.hexdigest()

    @classmethod
    def of(cls, rows: Sequence[dict[str, Any]]) -> "Rows":
        return cls([json.dumps(dict(row), ensure_ascii=False, default=str).encode() for row in rows])



def read_jsonl(path: Path, limit: int | None, required: tuple[str, ...],
               keep: Callable[[dict[str, Any]], bool] | None = None) -> Rows:
    rows: list[bytes] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if limit is not None and len(rows) >= limit:
                break
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise DataError(f"{path} line {number}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path} line {number}: expected a JSON object, got {type(row).__name__}")
            check_row(row, required, f"{path} line {number}")
            if keep is None or keep(row):
                rows.append(line.strip().encode())
    return Rows(rows)


def check_row(row: dict[str, Any], required: tuple[str, ...], where: str) -> None:
    missing = [name for name in required if name not in row]
    if missing:
        raise DataError(f"{where}: missing field {', '.join(repr(m) for m in missing)}")
