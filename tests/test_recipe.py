"""The shipped recipes resolve, and --collect-only shows what they set."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import ROOT

RECIPES = sorted((ROOT / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("recipe", RECIPES, ids=[path.name for path in RECIPES])
def test_recipe_resolves_and_collect_only_shows_it(bench, mock_server, recipe: Path):
    for module in (ROOT / "suites").glob("test_*.py"):  # a recipe names every suite of the repo
        shutil.copy(module, bench.path / "suites" / module.name)
    for data in (ROOT / "examples" / "data").glob("*.jsonl"):
        shutil.copy(data, bench.path / "data" / data.name)
    mock = mock_server()
    for module in (ROOT / "suites").glob("test_*.py"):  # the recipe names every suite; only MMLU-Pro runs
        shutil.copy(module, bench.path / "suites")
    result = bench.runpytest_subprocess("suites/test_mmlu_pro.py", "--recipe", str(recipe), "--endpoint", mock.url,
                                        "--data-dir", "data", "--collect-only", "-q")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(['nemoeval configuration: *"parallelism": 512*'])
    result.stdout.fnmatch_lines(['*"thresholds": [[]"mmlu_pro.accuracy>=0.763"*'])
    result.stdout.fnmatch_lines(['*"ifbench.prompt_loose>=0.695"*'])
    assert mock.chat_requests() == 0


@pytest.mark.parametrize(("args", "judge"), [
    ([], "embedded"),  # the run serves the embedded model: it grades too, offline and without a key
    (["--endpoint", "http://127.0.0.1:9/v1"], "https://api.openai.com/v1"),
    (["--deploy", "vllm", "--model", "m"], "https://api.openai.com/v1"),
    (["--judge-endpoint", "http://judge:8000/v1"], "http://judge:8000/v1"),
])
def test_judge_endpoint_default_follows_the_model_under_test(bench, args, judge):
    result = bench.runpytest_subprocess("suites/", "--data-dir", "data", "--collect-only", "-q", *args)
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines([f'nemoeval configuration: *"judge": {{*"endpoint": "{judge}"*'])
