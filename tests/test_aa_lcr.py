"""AA-LCR: the documents joined from the archive as NeMo Skills' prepare.py does, and pass@1 over repeats on a
scripted model and judge (an empty reply is wrong and not judged)."""

from __future__ import annotations

import io
import json
import shutil
import zipfile

from helpers import ROOT, results, samples

from pytest_nemoeval.tasks.aa_lcr import construct_prompt, is_correct, join_documents


def test_documents_are_joined_from_the_archive_with_its_mis_encoded_names():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lcr/Legal/set1/a.txt", "first")
        archive.writestr("lcr/Legal/set1/Owner\u0393\u00c7\u00d6s notes.txt", "second")  # ' stored as an artifact
    row = {"document_category": "Legal", "document_set_id": "set1",
           "data_source_filenames": "a.txt;Owner's notes.txt;missing.txt"}
    with zipfile.ZipFile(buffer) as archive:
        (joined,) = join_documents([row], archive)
    assert joined["documents"] == ["first", "second"]  # a missing file is left out, as prepare.py does
    prompt = construct_prompt(joined["documents"], "Q?")
    assert prompt.startswith("BEGIN INPUT DOCUMENTS\n\nBEGIN DOCUMENT 1:\nfirst\nEND DOCUMENT 1\n\nBEGIN DOCUMENT 2:")
    assert prompt.endswith("START QUESTION\n\nQ?\n\nEND QUESTION\n")


def test_judgements_are_read_as_nemo_skills_reads_them():
    assert is_correct(" correct.") and is_correct("CORRECT") and not is_correct("INCORRECT") and not is_correct(None)


def test_pass_at_1_over_repeats_with_a_scripted_judge(pytester, mock_server, monkeypatch):
    monkeypatch.setenv("JUDGE_API_KEY", "scripted")
    (pytester.path / "suites").mkdir()
    shutil.copy(ROOT / "suites" / "test_aa_lcr.py", pytester.path / "suites")
    (pytester.path / "data").mkdir()
    shutil.copy(ROOT / "examples" / "data" / "aa_lcr.jsonl", pytester.path / "data")
    rules = [["CANDIDATE ANSWER TO ASSESS: 90 days", "CORRECT"], ["CANDIDATE ANSWER TO ASSESS:", "INCORRECT"],
             ["lease require", "90 days"], ["revenue growth", ""]]  # the first question gets an empty reply
    (pytester.path / "answers.json").write_text(json.dumps(rules))
    mock = mock_server("--answers", str(pytester.path / "answers.json"), "--models",
                       "mock-model,Qwen/Qwen3-235B-A22B-Instruct-2507")
    result = pytester.runpytest_subprocess("suites/", "--endpoint", mock.url, "--judge-endpoint", mock.url,
                                           "--data-dir", "data", "--repeats", "2")
    result.stdout.fnmatch_lines(["*aa_lcr: pass@1 0.5000 *errors=0*"])
    stats = mock.stats()
    assert stats["chat_requests"] == 4 + 2  # the empty replies are not judged
    assert stats["models"]["Qwen/Qwen3-235B-A22B-Instruct-2507"] == 2
    rows = {(row["sample_id"], row["repeat"]): row for row in samples(pytester, "aa_lcr")}
    assert rows[(2, 0)]["verdict"] == "correct" and rows[(2, 1)]["judge"] == "CORRECT"
    assert rows[(1, 0)]["verdict"] == "incorrect" and rows[(1, 0)]["judge"] is None
    assert results(pytester)["benchmarks"]["aa_lcr"]["metrics"]["no_answer"]["value"] == 0.5
