"""The shipped recipes resolve, and --collect-only shows what they set."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import ROOT

RECIPES = sorted((ROOT / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("recipe", RECIPES, ids=[path.name for path in RECIPES])
def test_recipe_resolves_and_collect_only_shows_it(bench, mock_server, recipe: Path):
    from test_scicode import problem, write_targets  # scicode reads its rows and targets from --data-dir

    shutil.copy(ROOT / "suites" / "test_scicode.py", bench.path / "suites" / "test_scicode.py")
    (bench.path / "data" / "scicode.jsonl").write_text(json.dumps(problem("1")) + "\n")
    write_targets(bench.path / "data" / "test_data.h5", [problem("1")])
    mock = mock_server()
    result = bench.runpytest_subprocess("suites/", "--recipe", str(recipe), "--endpoint", mock.url,
                                        "--data-dir", "data", "--collect-only", "-q")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(['nemoeval configuration: *"parallelism": 512*'])
    result.stdout.fnmatch_lines(['*"thresholds": [[]"mmlu_pro.accuracy>=0.763"*'])
    result.stdout.fnmatch_lines(['*"scicode.subtask>=0.313"*'])
    assert mock.chat_requests() == 0
