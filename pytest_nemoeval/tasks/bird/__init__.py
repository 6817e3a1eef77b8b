"""BIRD (dev_20240627) as NeMo Skills runs it: its data, the schema dump in the prompt, the SQL taken from a reply.

Sources (NVIDIA-NeMo/Skills; prepare.py at 74aa4d6d, evaluator/bird.py at 66aace8b, dataset/birdbench/
__init__.py at 490efe64; the prompt config generic/text_to_sql.yaml as carried by the seopbo/nemo-skills-patch
fork at 62a5b7d8, the only stored copy):
- data: `dataset/birdbench/prepare.py` downloads https://bird-bench.oss-cn-beijing.aliyuncs.com/dev.zip,
  extracts dev_20240627/dev.json and dev_databases.zip, and writes one row per question:
  {question, gt_sql (dev.json SQL), sql_context (the schema dump), difficulty, db_id, id (index)}; no evidence.
- schema dump (`read_tables_file`): the database's `iterdump()` (text decoded with errors ignored), newlines
  inside INSERT lines made spaces, runs of spaces collapsed, then every run of more than 10 INSERT lines cut
  to 10 plus a `...` line, and a `VALUES` list of 10 or more tuples replaced by `...`.
- extraction (`BirdEvaluator._extract_answer`, CODEBLOCK): the last ```sql block holding a letter, `--`
  comments removed, whitespace collapsed, a leading `**...**` header dropped; `SELECT 1` without a block.
Execution and comparison are in execution.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import sys
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from pytest_nemoeval.data import DataSource
from pytest_nemoeval.errors import DataError

URL = "https://bird-bench.oss-cn-beijing.aliyuncs.com/dev.zip"
RELEASE = "dev_20240627"  # the directory dev.zip holds
DATABASES = "dev_databases"
# generic/text_to_sql.yaml: the system message and the user template
SYSTEM = 'Please reason step by step, and put your final answer within the tags "```sql" and "```".'
USER = ("### Question\n"
        "{question}\n"
        "\n"
        "The following is a SQL dump that describes the database and the tables in it.\n"
        "{sql_context}\n"
        "\n"
        "Convert the question above to a SQL query for the database given. Use the answer tags given.\n"
        "If there is more than one set of tags, the last one will be taken as your final answer.\n"
        "\n"
        "### Answer:")
NO_SQL = "SELECT 1"  # what NeMo Skills runs for a reply without a ```sql block

_SQL_BLOCK = re.compile(r"(?:```sql)(.*?[a-zA-Z].*?)(?:```)", re.DOTALL)
_INSERT_RUN = re.compile(r"((INSERT.*$\n){10})((INSERT.*\n)*)", re.MULTILINE)
_MANY_VALUES = re.compile(r"(?:VALUES )(((\([^)]*)\)[,;]\s*)){10}(.*)(?:;)", re.MULTILINE)


def prompt(row: dict[str, Any]) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": USER.format(question=row["question"], sql_context=row["sql_context"])}]


def extract_sql(text: str | None) -> str:
    """The SQL NeMo Skills executes for a reply (`_extract_answer`, answer_format CODEBLOCK)."""
    blocks = _SQL_BLOCK.findall(text or "")
    if not blocks:
        return NO_SQL
    sql = re.sub(r"\s+", " ", re.sub(r"--.*", "", blocks[-1]))
    return re.sub(r"^\*\*.*\*\*", "", sql).strip()


def schema_dump(database: Path) -> str:
    """The database's `sql_context`, as prepare.py's read_tables_file builds it."""
    # read-only, and nothing more: the execution limits (heap cap, authorizer) are process-wide or block iterdump
    connection = sqlite3.connect(f"{Path(database).resolve().as_uri()}?mode=ro", uri=True)
    connection.text_factory = lambda raw: raw.decode(errors="ignore")
    try:
        lines = []
        for line in connection.iterdump():
            if line[:6] == "INSERT":
                line = line.replace("\n", " ")
            lines.append(re.sub(" +", " ", line) + "\n")
    finally:
        connection.close()
    dump = _INSERT_RUN.sub(r"\1\n...\n", "".join(lines))
    return _MANY_VALUES.sub("...", dump)


def prepare_rows(questions: list[dict[str, Any]], databases: Path) -> list[dict[str, Any]]:
    """dev.json's questions as prepare.py's format_entries writes them, one schema dump per database."""
    dumps: dict[str, str] = {}
    rows = []
    for index, entry in enumerate(questions):
        db_id = entry["db_id"]
        if db_id not in dumps:
            path = database_path(databases, db_id)
            if not path.is_file():
                raise DataError(f"BIRD question {index}: no database {path}")
            dumps[db_id] = schema_dump(path)
        rows.append({"question": entry["question"], "gt_sql": entry["SQL"], "sql_context": dumps[db_id],
                     "difficulty": entry["difficulty"], "db_id": db_id, "id": index})
    return rows


def database_path(databases: Path, db_id: str) -> Path:
    return databases / db_id / f"{db_id}.sqlite"


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pytest-nemoeval" / "bird"


def databases_dir(data_dir: str | None) -> Path:
    """Where the databases are: DIR/bird/dev_databases with --data-dir, else the download cache's."""
    if data_dir:
        return Path(data_dir) / "bird" / DATABASES
    return cache_root() / RELEASE / DATABASES


@dataclass(frozen=True)
class BirdDev(DataSource):
    """BIRD's dev set from dev.zip, downloaded once into the cache (~/.cache/pytest-nemoeval/bird), extracted,
    and prepared once into bird.jsonl there; later runs read that and never download again."""

    root: Path | None = None  # the cache directory (tests point it elsewhere)
    url: str = URL
    revision: str = RELEASE

    def describe(self) -> str:
        return f"BIRD {RELEASE} ({self.url})"

    @property
    def directory(self) -> Path:
        return self.root or cache_root()

    def load(self, limit: int | None) -> Sequence[dict[str, Any]]:
        prepared = self.directory / "bird.jsonl"
        if not prepared.is_file():
            self._prepare(prepared)
        rows = []
        with open(prepared, encoding="utf-8") as handle:
            for line in handle:
                if limit is not None and len(rows) >= limit:
                    break
                rows.append(json.loads(line))
        return rows

    def _prepare(self, prepared: Path) -> None:
        release = self.directory / RELEASE
        if not (release / DATABASES).is_dir():
            self._extract(self._download())
        try:
            questions = json.loads((release / "dev.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"{release / 'dev.json'}: {exc}; delete {self.directory} to download again") from None
        _status(f"bird: preparing the prompts of {len(questions)} questions (once; kept in {prepared})")
        rows = prepare_rows(questions, release / DATABASES)
        partial = prepared.with_suffix(".part")
        with open(partial, "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        partial.replace(prepared)

    def _download(self) -> Path:
        """dev.zip in the cache (downloaded if absent), its sha256 checked against the one recorded when it was
        downloaded: a truncated or altered copy is an error, never silently used."""
        archive = self.directory / "dev.zip"
        recorded = archive.with_suffix(".zip.sha256")
        if archive.is_file() and recorded.is_file():
            if _sha256(archive) != recorded.read_text().strip():
                raise DataError(f"{archive} does not match its recorded sha256: delete {self.directory} "
                                "to download it again")
            return archive
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = archive.with_suffix(".zip.part")
        digest = hashlib.sha256()
        try:
            with urllib.request.urlopen(self.url, timeout=120) as reply, open(partial, "wb") as handle:
                total = int(reply.headers.get("Content-Length") or 0)
                _status(f"bird: downloading {self.url} ({total / 2**20:.0f} MiB) into {self.directory}, once")
                done, shown = 0, -1
                while chunk := reply.read(2**20):
                    handle.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    percent = done * 100 // total if total else -1
                    if percent // 5 != shown // 5:
                        shown = percent
                        _status(f"bird: dev.zip {done / 2**20:.0f} MiB" + (f" ({percent} %)" if total else ""))
                if total and done != total:
                    raise OSError(f"got {done} of {total} bytes")
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise DataError(f"could not download {self.url}: {exc}; or put the data in --data-dir DIR "
                            "(DIR/bird.jsonl and DIR/bird/dev_databases/<db>/<db>.sqlite)") from None
        partial.replace(archive)
        recorded.write_text(digest.hexdigest() + "\n")
        return archive

    def _extract(self, archive: Path) -> None:
        release = self.directory / RELEASE
        try:
            with zipfile.ZipFile(archive) as outer:
                outer.extractall(self.directory)
            with zipfile.ZipFile(release / f"{DATABASES}.zip") as inner:
                inner.extractall(release)
        except (OSError, zipfile.BadZipFile) as exc:
            raise DataError(f"cannot extract {archive}: {exc}; delete {self.directory} to download again") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()


def _status(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
