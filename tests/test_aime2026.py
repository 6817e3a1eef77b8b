"""AIME 2026 and its tools variant: aime25's prompt and grader on MathArena's schema, no token cap, 64 repeats."""

from __future__ import annotations

import json
import shutil

import pytest

from helpers import ROOT, copy_suites, results, samples


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    copy_suites(pytester, "aime2026", "aime2026_tools")
    shutil.copytree(ROOT / "examples" / "data", pytester.path / "data")
    return pytester


def test_aime2026_scores_by_hand_with_matharena_rows(project, mock_server):
    rules = [["7^{4}", "So \\boxed{401}"], ["a + b = 25", "\\boxed{25}"], ["diagonal", "It is 37."]]
    (project.path / "answers.json").write_text(json.dumps(rules))
    server = mock_server("--answers", str(project.path / "answers.json"))
    result = project.runpytest_subprocess("suites/", "-k", "aime2026 and not tools", "--endpoint", server.url,
                                          "--data-dir", "data", "--repeats", "2")
    assert result.ret == 0, result.stdout.str()
    entry = results(project)["benchmarks"]["aime2026"]
    metrics = {key: value["value"] for key, value in entry["metrics"].items()}
    assert metrics["pass@1"] == pytest.approx(1 / 3) and metrics["no_answer"] == pytest.approx(1 / 3)
    assert entry["generation"]["max_new_tokens"] is None  # the published ++inference.tokens_to_generate=null
    right = next(row for row in samples(project, "aime2026") if row["correct"])
    assert (right["sample_id"], right["extracted"], right["expected"]) == (1, "401", "401")


def test_aime2026_tools_reads_aime2026_rows_with_64_repeats(project):
    result = project.runpytest("suites/", "--collect-only", "-q", "-k", "aime2026_tools", "--data-dir", "data")
    ids = [line for line in result.outlines if "::test_aime2026_tools[" in line]
    assert len(ids) == 3 * 64 and ids[-1].endswith("[s00002-r63]")
