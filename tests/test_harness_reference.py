"""The base-model suites' requests against what lm-evaluation-harness itself built for the same rows
(tests/data/lm_eval_reference.jsonl, made by the harness: see tests/data/README.md): every (context,
continuation) pair and every generative prompt, byte for byte, few-shot examples and their seeded stream
included; and the embedded model's log-likelihoods next to the harness's on the same weights."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from helpers import ROOT, argmax, copy_suites, lm_eval_reference, results, with_reference
from pytest_nemoeval.suite import load_suite_module

EXAMPLES = ROOT / "examples" / "data"
REFERENCE = lm_eval_reference()
SUITES = sorted({entry["suite"] for entry in REFERENCE})


def sha256(value: object) -> str:
    return hashlib.sha256(json.dumps(value, ensure_ascii=False).encode()).hexdigest()


def built(name: str, indices: list[int], directory: Path) -> dict[int, object]:
    """The requests of these rows of examples/data, run as a dataset of their own (in this order), as the
    harness ran them: its few-shot stream draws for the rows it evaluates only."""
    module = load_suite_module(str(ROOT / "suites" / f"test_{name}.py"))
    lines = (EXAMPLES / f"{name}.jsonl").read_text().splitlines()
    (directory / f"{name}.jsonl").write_text("".join(lines[index] + "\n" for index in indices))
    if (EXAMPLES / f"{name}.fewshot.jsonl").exists():
        shutil.copy(EXAMPLES / f"{name}.fewshot.jsonl", directory)
    rows = module.suite.load_rows(str(directory), None)
    return {index: module.suite.request_text(rows, position, None) for position, index in enumerate(indices)}


def test_the_reference_covers_every_base_model_suite():
    assert SUITES == ["arc_challenge", "hellaswag", "mmlu", "mmlu_logits", "openbookqa", "winogrande"]
    for name in SUITES:
        rows = (EXAMPLES / f"{name}.jsonl").read_text().splitlines()
        indices = sorted(entry["index"] for entry in REFERENCE if entry["suite"] == name)
        assert len(indices) >= 12 and indices[-1] < len(rows)


@pytest.mark.parametrize("name", SUITES)
def test_every_request_is_the_harness_request_byte_for_byte(name, tmp_path):
    entries = [entry for entry in REFERENCE if entry["suite"] == name]
    ours = built(name, [entry["index"] for entry in entries], tmp_path)
    for entry in entries:
        sent = ours[entry["index"]]
        if "prompt" in entry or "requests" in entry:  # the strings themselves: a readable difference
            expected = entry.get("prompt", entry.get("requests"))
            assert (sent if isinstance(sent, str) else [list(pair) for pair in sent]) == expected
        if name == "mmlu":
            assert sha256(sent) == entry["prompt_sha256"], f"row {entry['index']}"
        else:
            assert sha256([list(pair) for pair in sent]) == entry["requests_sha256"], f"row {entry['index']}"


@pytest.mark.parametrize("name", [name for name in SUITES if name != "mmlu"])
def test_scores_from_the_harness_log_likelihoods_are_the_harness_scores(name):
    """acc / acc_norm as the suite computes them from the harness's own log-likelihoods = the harness's."""
    module = load_suite_module(str(ROOT / "suites" / f"test_{name}.py"))
    rows = [json.loads(line) for line in (EXAMPLES / f"{name}.jsonl").read_text().splitlines()]
    from pytest_nemoeval.harness import scores

    for entry in (entry for entry in REFERENCE if entry["suite"] == name):
        scored = scores(module.task, rows[entry["index"]], entry["loglikelihoods"])
        assert scored["acc"] == bool(entry["acc"])
        if entry.get("acc_norm") is not None:
            assert scored["acc_norm"] == bool(entry["acc_norm"])


def test_the_generative_answer_is_the_harness_filter(monkeypatch):
    letter = load_suite_module(str(ROOT / "suites" / "test_mmlu.py")).letter
    for entry in (entry for entry in REFERENCE if entry["suite"] == "mmlu"):
        assert letter(entry["reply"]) == entry["answer"]
    assert (letter(" B\n"), letter("\n C."), letter(""), letter("   ")) == ("B", "C", "[invalid]", "[invalid]")


@pytest.mark.usefixtures("run_processes")
def test_the_embedded_model_scores_as_the_harness_does(pytester):
    """Teacher forcing on llama.cpp (SmolLM2-135M, Q4_1 weights) against the harness's Hugging Face backend on
    the same weights dequantized: the quantized kernels move log-likelihoods a little, never the method."""
    copy_suites(pytester, "openbookqa", "mmlu_logits")
    (pytester.path / "data").mkdir()
    for name in ("openbookqa", "mmlu_logits", "mmlu_logits.fewshot"):
        shutil.copy(EXAMPLES / f"{name}.jsonl", pytester.path / "data")
    result = pytester.runpytest_subprocess("suites/", "--data-dir", "data", "--limit-samples", "8")
    assert result.ret == 0, result.stdout.str()
    document = results(pytester)
    for name in ("openbookqa", "mmlu_logits"):
        entry = document["benchmarks"][name]
        assert entry["scoring"] == {"api": "completions", "server": "llama.cpp", "method": "teacher_forcing", "slots": 4}
        assert entry["errors"] == 0
        same = 0
        for sample, reference in with_reference(pytester, name):
            assert sample["loglikelihoods"] == pytest.approx(reference["loglikelihoods"], abs=1.0)
            same += sample["extracted"] == argmax(reference["loglikelihoods"])
        assert same >= 7, f"{name}: {same} of 8 predictions as the harness's"
