"""AA-LCR (ArtificialAnalysis/AA-LCR, Apache-2.0): questions over document sets of about 100K tokens, as NeMo Skills
runs it (NVIDIA-NeMo/Skills 8b18f399, Oct 2025):

- data: nemo_skills/dataset/aalcr/prepare.py: the hub's test split, each row's documents read from the dataset's
  own archive (extracted_text/AA-LCR_extracted-text.zip: lcr/<document_category>/<document_set_id>/<file>, the
  files named by `data_source_filenames`, ";"-separated, with find_actual_file's repair of mis-encoded names);
- prompt: prepare.py `construct_prompt` ("BEGIN INPUT DOCUMENTS ... START QUESTION"), sent with
  `generic/default` (the prompt as the one user message);
- judge: prompt/config/judge/aalcr.yaml, CORRECT / INCORRECT; metrics/aalcr_metrics.py: an empty generation is
  wrong, a judgement is correct when it starts with CORRECT (upper-cased, stripped).

`--data-dir DIR`: DIR/aa_lcr.jsonl holds the rows with their documents joined (`documents`: the texts, in the
order of `data_source_filenames`), as prepare.py joins them.
"""

from __future__ import annotations

import io
import os
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from pytest_nemoeval.data import DataSource, load_dataset
from pytest_nemoeval.errors import DataError

DATASET = "ArtificialAnalysis/AA-LCR"
ARCHIVE = f"https://huggingface.co/datasets/{DATASET}/resolve/main/extracted_text/AA-LCR_extracted-text.zip"

PROMPT = """BEGIN INPUT DOCUMENTS

{documents_text}

END INPUT DOCUMENTS

Answer the following question using the input documents provided above.

START QUESTION

{question}

END QUESTION
"""

JUDGE = """Assess whether the following CANDIDATE ANSWER is CORRECT or INCORRECT. For the CANDIDATE ANSWER to be correct, it must be consistent with the OFFICIAL ANSWER.

The question, for reference only: {question}
The OFFICIAL ANSWER: {expected_answer}
CANDIDATE ANSWER TO ASSESS: {generation}

Reply only with CORRECT or INCORRECT."""

# find_actual_file: the archive's names carry encoding artifacts the dataset's names do not
ARTIFACTS = (("'", "ΓÇÖ"), (chr(8217), "ΓÇÖ"), (chr(8216), "ΓÇÖ"), ("—", "ΓÇö"), ("–", "ΓÇô"), ("ş", "s╠º"))


def construct_prompt(documents: list[str], question: str) -> str:
    documents_text = "\n\n".join(f"BEGIN DOCUMENT {i + 1}:\n{document}\nEND DOCUMENT {i + 1}"
                                 for i, document in enumerate(documents))
    return PROMPT.format(documents_text=documents_text, question=question)


def judge_prompt(question: str, expected: str, generation: str) -> str:
    # NeMo Skills fills the judge's {question} with the question field, which prepare.py made the full prompt
    return JUDGE.format(question=question, expected_answer=expected, generation=generation)


def is_correct(judgement: str | None) -> bool:
    """aalcr_metrics.py is_aalcr_correct."""
    if judgement is None:
        return False
    judgement = judgement.strip().upper()
    return judgement == "CORRECT" or judgement.startswith("CORRECT")


def archive_path() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pytest-nemoeval" / "aa_lcr" / \
        "AA-LCR_extracted-text.zip"


def actual_name(names: set[str], folder: str, name: str) -> str | None:
    """The archive member for a document (find_actual_file: exact, with artifacts, or normalised)."""
    if f"{folder}/{name}" in names:
        return f"{folder}/{name}"
    with_artifacts = name
    for clean, artifact in ARTIFACTS:
        with_artifacts = with_artifacts.replace(clean, artifact)
    if f"{folder}/{with_artifacts}" in names:
        return f"{folder}/{with_artifacts}"
    for member in names:
        if member.startswith(f"{folder}/"):
            actual = member[len(folder) + 1:]
            cleaned = actual
            for clean, artifact in ARTIFACTS:
                cleaned = cleaned.replace(artifact, clean)
            if with_artifacts == actual or cleaned == name:
                return member
    return None


def join_documents(rows: Sequence[dict[str, Any]], archive: zipfile.ZipFile) -> list[dict[str, Any]]:
    """Each row with `documents`: the texts its data_source_filenames name (prepare.py write_data_to_file; a
    missing file is left out, as there)."""
    names = set(archive.namelist())
    joined = []
    for row in rows:
        folder = f"lcr/{row['document_category']}/{row['document_set_id']}"
        documents = []
        for name in str(row["data_source_filenames"]).split(";"):
            member = actual_name(names, folder, name)
            if member is not None:
                documents.append(archive.read(member).decode("utf-8"))
        joined.append({**row, "documents": documents})
    return joined


@dataclass(frozen=True)
class AALCRFiles(DataSource):
    """The hub's questions joined with the documents of the dataset's archive (downloaded once, cached)."""

    def describe(self) -> str:
        return f"{DATASET} (split test, documents from extracted_text/AA-LCR_extracted-text.zip)"

    def load(self, limit: int | None) -> Sequence[dict[str, Any]]:
        rows = load_dataset(self.describe(), limit, DATASET, split="test")
        path = archive_path()
        if not path.is_file():
            try:
                with urllib.request.urlopen(ARCHIVE, timeout=600) as reply:
                    data = reply.read()
            except OSError as exc:
                raise DataError(f"could not download {ARCHIVE}: {exc}; or use --data-dir with the rows joined") from None
            path.parent.mkdir(parents=True, exist_ok=True)
            path.with_suffix(".partial").write_bytes(data)
            os.replace(path.with_suffix(".partial"), path)
        try:
            with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
                return join_documents(list(rows), archive)
        except zipfile.BadZipFile:
            raise DataError(f"{path} is not a zip archive: delete it to download it again") from None
