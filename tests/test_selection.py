"""-k decides which suites load their data, before any dataset is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nemoeval.selection import may_select


@pytest.fixture
def two_suites(bench: pytest.Pytester) -> pytest.Pytester:
    source = (bench.path / "suites" / "test_mmlu_pro.py").read_text()
    other = source.replace('name="mmlu_pro"', 'name="other"').replace("def test_mmlu_pro(", "def test_other(")
    (bench.path / "suites" / "test_other.py").write_text(other)  # no data/other.jsonl
    return bench


def test_a_suite_left_out_by_k_never_loads_its_data(two_suites):
    result = two_suites.runpytest_subprocess("suites/", "-k", "mmlu_pro", "--data-dir", "data", "--collect-only", "-q")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["20/* tests collected *"])


def test_a_selected_suite_without_data_is_one_line(two_suites):
    result = two_suites.runpytest_subprocess("suites/", "-k", "other and r0", "--data-dir", "data", "--collect-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: other: --data-dir data: no file data*other.jsonl*"])


@pytest.mark.parametrize("keyword, selected", [
    ("", {"mmlu_pro", "bfcl_v4"}),
    ("mmlu_pro", {"mmlu_pro"}),
    ("mmlu", {"mmlu_pro"}),
    ("not mmlu_pro", {"bfcl_v4"}),
    ("bfcl_v4 and multi_turn", {"bfcl_v4"}),  # multi_turn may be in an item id: unknown, so loaded
    ("r0", {"mmlu_pro", "bfcl_v4"}),
    ("mmlu_pro or bfcl", {"mmlu_pro", "bfcl_v4"}),
    ("bfcl_v4 and not live", {"bfcl_v4"}),  # live may be in bfcl_v4's ids (live_simple), not in mmlu_pro's
    ("not live", {"mmlu_pro", "bfcl_v4"}),
])
def test_may_select(tmp_path: Path, keyword, selected):
    for name in ("mmlu_pro", "bfcl_v4"):
        (tmp_path / f"test_{name}.py").write_text("")
    chosen = {name for name in ("mmlu_pro", "bfcl_v4")
              if may_select(keyword, tmp_path / f"test_{name}.py", f"test_{name}")}
    assert chosen == selected
