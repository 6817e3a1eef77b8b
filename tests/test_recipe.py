"""The shipped recipes resolve, and --collect-only shows what they set."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from helpers import ROOT

RECIPES = sorted((ROOT / "recipes").glob("*.yaml"))
SHOWN = {  # what --collect-only shows of each recipe's resolved configuration
    "nemotron_3_nano_30b_a3b.yaml": ['nemoeval configuration: *"parallelism": 512*',
                                     '*"thresholds": [[]"mmlu_pro.accuracy>=0.763"*', '*"ifbench.prompt_loose>=0.695"*'],
    "nemotron_3_nano_30b_a3b_tools.yaml": ['nemoeval configuration: *"parallelism": 512*',
                                           '*"aime25_tools.pass@1>=0.972"*', '*"hle_tools.accuracy>=0.135"*',
                                           '*"gpqa_tools": {*"generation": {"max_new_tokens": null}*'],
    "nemotron_3_super.yaml": ['nemoeval configuration: *"parallelism": 512*', '*"gpqa_tools.pass@1>=0.807"*',
                              '*"arena_hard_v2.win_rate>=0.7188"*', '*"wmt24pp.comet>=0.853"*',
                              '*"livecodebench_v6": {"repeats": 8}*', '*"temperature": 1.0, "top_p": 0.95*',
                              '*"tau2_average.pass@1>=0.6264"*'],
    "long_context_smoke.yaml": ['nemoeval configuration: *"lengths": [[]4096, 8192[]]*'],
    "nemotron_3_super_base.yaml": ['nemoeval configuration: *"parallelism": 128*', '*"mmlu.exact_match>=0.8486"*',
                                   '*"hellaswag.acc_norm>=0.8796"*', '*"winogrande.acc>=0.7687"*'],
}
NO_COMET = {"nemotron_3_super.yaml": ["--set", "benchmarks.wmt24pp.data.comet=false"]}  # its model: not in tests


@pytest.mark.parametrize("recipe", RECIPES, ids=[path.name for path in RECIPES])
def test_recipe_resolves_and_collect_only_shows_it(bench, mock_server, recipe: Path):
    for module in (ROOT / "suites").glob("test_*.py"):  # a recipe names every suite of the repo
        shutil.copy(module, bench.path / "suites" / module.name)
    for data in (ROOT / "examples" / "data").glob("*"):
        (shutil.copytree if data.is_dir() else shutil.copy)(data, bench.path / "data" / data.name)  # bird/: databases
    mock = mock_server()
    result = bench.runpytest_subprocess("suites/", "--recipe", str(recipe), "--endpoint", mock.url, "--data-dir", "data",
                                        "--limit-samples", "1", "--collect-only", "-q", *NO_COMET.get(recipe.name, []))
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    for line in SHOWN[recipe.name]:
        result.stdout.fnmatch_lines([line])
    # the recipe's benchmarks are the suites it runs: each of them, and nothing else
    collected = {Path(line.split("::")[0]).stem.removeprefix("test_") for line in result.stdout.lines if "::" in line}
    assert collected == set(yaml.safe_load(recipe.read_text())["benchmarks"])
    assert mock.chat_requests() == 0


def test_a_recipe_runs_the_benchmarks_it_names_and_only_those(bench):
    for module in (ROOT / "suites").glob("test_*.py"):
        shutil.copy(module, bench.path / "suites" / module.name)
    for data in (ROOT / "examples" / "data").glob("*"):
        (shutil.copytree if data.is_dir() else shutil.copy)(data, bench.path / "data" / data.name)  # bird/: databases
    (bench.path / "two.yaml").write_text("benchmarks:\n  gpqa: {repeats: 2}\n  aime25: {repeats: 1}\n")
    result = bench.runpytest_subprocess("suites/", "--recipe", "two.yaml", "--data-dir", "data", "--collect-only",
                                        "-q", "--limit-samples", "1")
    assert result.ret == 0, result.stderr.str()
    collected = [line for line in result.stdout.lines if "::" in line and "NOTSET" not in line]  # left-out suites: NOTSET
    assert sorted(collected) == ["suites/test_aime25.py::test_aime25[s00000-r0]",
                                 "suites/test_gpqa.py::test_gpqa[s00000-r0]", "suites/test_gpqa.py::test_gpqa[s00000-r1]"]
    # without a recipe, or with one that names no benchmark, every suite runs
    (bench.path / "none.yaml").write_text("parallelism: 4\n")
    every = bench.runpytest_subprocess("suites/", "--recipe", "none.yaml", "--data-dir", "data", "--collect-only",
                                       "-q", "--limit-samples", "1", "--repeats", "1")
    assert {line.split("::")[0] for line in every.stdout.lines if "::" in line} == {
        f"suites/{module.name}" for module in (ROOT / "suites").glob("test_*.py")}


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
