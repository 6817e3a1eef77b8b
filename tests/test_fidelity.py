"""The suites as the published Nemotron 3 Nano 30B A3B evaluation runs them: prompts byte for byte, GPQA's
option order, and the recipe's settings against NeMo Evaluator's published configuration. The reference code
below is copied from upstream as an oracle (sources named); the suites' own code is separate."""

from __future__ import annotations

import json
import random
import shlex

import pytest
import yaml

from helpers import ROOT
from pytest_nemoeval.config import RunConfig
from pytest_nemoeval.suite import load_suite_module

EXAMPLES = ROOT / "examples" / "data"
RECIPE = ROOT / "recipes" / "nemotron_3_nano_30b_a3b.yaml"


def suite(name):
    return load_suite_module(str(ROOT / "suites" / f"test_{name}.py")).suite


def rows(name, limit=None):
    return list(suite(name).load_rows(str(EXAMPLES), limit))


# NVIDIA/NeMo-Skills 0b012df8, nemo_skills/dataset/utils.py get_mcq_fields (builds `{problem}`)
def get_mcq_fields(question, choices):
    options_dict = {chr(ord("A") + i): option for i, option in enumerate(choices)}
    options_text = "\n".join(f"{letter}) {option}" for letter, option in options_dict.items())
    question = question.strip("\n")
    return {"problem": f"{question}\n\n{options_text}", "options": options_text, **options_dict}


# NeMo-Skills 0b012df8 nemo_skills/prompt/config/eval/aai/*.yaml, the `user` strings as YAML loads them
MCQ_10_BOXED = yaml.safe_load("""\
user: |-
  Answer the following multiple choice question. The last line of your response should be in the following format: 'Answer: \\boxed{{A/B/C/D/E/F/G/H/I/J}}' (e.g. 'Answer: \\boxed{{A}}').

  {problem}
""")["user"]
MCQ_4 = yaml.safe_load("""\
user: |-
  Answer the following multiple choice question. The last line of your response should be in the following format: 'Answer: A/B/C/D' (e.g. 'Answer: A').

  {problem}
""")["user"]


def test_mmlu_pro_prompt_is_mcq_10choices_boxed_byte_for_byte():
    for row in rows("mmlu_pro"):
        expected = MCQ_10_BOXED.format(**get_mcq_fields(row["question"], row["options"]))
        assert suite("mmlu_pro").prompt(row) == expected
    assert "(e.g. 'Answer: \\boxed{A}').\n\n" in suite("mmlu_pro").prompt(rows("mmlu_pro")[0])


# NeMo-Skills 0b012df8 nemo_skills/dataset/gpqa/prepare.py: preprocess, format_entry's shuffle, save_data's seed
def preprocess(text):
    if text is None:
        return " "
    text = text.strip()
    text = text.replace(" [title]", ". ")
    text = text.replace("  ", " ")
    return text


def reference_gpqa(entries, random_seed=42):
    random.seed(random_seed)
    prepared = []
    for entry in entries:
        choices = [preprocess(entry["Incorrect Answer 1"]), preprocess(entry["Incorrect Answer 2"]),
                   preprocess(entry["Incorrect Answer 3"]), preprocess(entry["Correct Answer"])]
        random.shuffle(choices)
        correct_answer_index = choices.index(preprocess(entry["Correct Answer"]))
        prepared.append({"expected_answer": f"{chr(65 + correct_answer_index)}",
                         **get_mcq_fields(entry["Question"], choices)})
    return prepared


def test_gpqa_letters_and_prompt_are_prepare_pys():
    entries = [json.loads(line) for line in EXAMPLES.joinpath("gpqa.jsonl").read_text().splitlines()]
    reference = reference_gpqa(entries)
    ours = rows("gpqa")
    assert [row["expected"] for row in ours] == [entry["expected_answer"] for entry in reference] == \
        ["C", "A", "B", "D"]
    for row, entry in zip(ours, reference):
        assert suite("gpqa").prompt(row) == MCQ_4.format(problem=entry["problem"])
    # --limit-samples selects rows after the stream is drawn over the whole file
    assert [row["expected"] for row in rows("gpqa", 2)] == ["C", "A"]


def test_gpqa_letters_cover_the_whole_file_also_when_rows_are_kept_out(tmp_path):
    """A row that `keep` would drop still takes its draw: the stream is the file's, as in prepare.py."""
    entries = [json.loads(line) for line in EXAMPLES.joinpath("gpqa.jsonl").read_text().splitlines()]
    module = load_suite_module(str(ROOT / "suites" / "test_gpqa.py"))
    prepared = list(module.shuffle_options(entries))
    assert [row["expected"] for row in prepared[1:]] == \
        [entry["expected_answer"] for entry in reference_gpqa(entries)][1:]


# NVIDIA-NeMo/Evaluator fc304a0782c2 (the commit the model card's blog links),
# packages/nemo-evaluator-launcher/examples/nemotron/local_nvidia_nemotron_3_nano_30b_a3b.yaml
PUBLISHED_GENERATION = {"max_new_tokens": 131072, "temperature": 0.99999, "top_p": 0.99999}
PUBLISHED_TASKS = {  # ns_<task>: num_repeats and params
    "bfcl_v3": (1, {"temperature": 0.6, "top_p": 0.95}),
    "bfcl_v4": (1, {"max_new_tokens": 8192, "temperature": 0.6, "top_p": 0.95}),
    "livecodebench": (8, {}),
    "mmlu_pro": (1, {}),
    "gpqa": (8, {}),
    "aime25": (64, {}),
    "scicode": (8, {}),
    "ifbench": (8, {}),
    "hle": (1, {}),
}
# slurm_nvidia_nemotron_3_nano_30b_a3b_nvfp4.yaml (HEAD), deployment.extra_args; --enable-log-requests left out
PUBLISHED_VLLM_ARGS = ("--max-model-len 262144 --gpu-memory-utilization 0.90 --no-enable-prefix-caching "
                       "--trust-remote-code --mamba_ssm_cache_dtype float32 --enable-auto-tool-choice "
                       "--tool-call-parser qwen3_coder --reasoning-parser deepseek_r1")


@pytest.mark.parametrize("name", sorted(PUBLISHED_TASKS))
def test_recipe_runs_each_benchmark_with_the_published_settings(name):
    recipe = yaml.safe_load(RECIPE.read_text())
    run = RunConfig(tree=recipe, thresholds=[])
    repeats, params = PUBLISHED_TASKS[name]
    benchmark = suite(name)
    assert run.repeats_for(name, benchmark.repeats) == repeats
    generation = run.generation_for(name, benchmark.generation)
    assert {key: generation[key] for key in PUBLISHED_GENERATION} == {**PUBLISHED_GENERATION, **params}
    assert (recipe["parallelism"], recipe["request_timeout"], recipe["max_retries"]) == (512, 3600, 10)


def test_recipe_deploys_vllm_with_the_published_arguments():
    recipe = yaml.safe_load(RECIPE.read_text())
    args = [token for arg in recipe["deployment"]["args"] for token in shlex.split(arg)]
    assert args == shlex.split(PUBLISHED_VLLM_ARGS)
    assert (recipe["judge"]["model"], recipe.get("judge", {}).get("parallelism", 16)) == ("gpt-4o", 16)


PINNED = {"mmlu_pro": "3373e0b32277875b8db2aa555a333b78a08477ea", "gpqa": "90b8e5be2b1d3d2dbfe016cdab47981150600c4a",
          "hle": "5a81a4c7271a2a2a312b9a690f0c2fde837e4c29", "ifbench": "2e8a48de45ff3bf41242f927254ca81b59ca3ae2",
          "aime25": "563bb8404243c5f09de6ec262f2db674fe5bce9b", "scicode": "4510f6a6aa27c43fad7b43da2c59602a86e88480",
          "livecodebench": "0fe84c3912ea0c4d4a78037083943e8f0c4dd505"}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_hub_datasets_load_at_their_pinned_revision_and_the_recipe_can_move_it(name, monkeypatch):
    import datasets

    calls = []

    def load_dataset(*args, **kwargs):
        calls.append((args, kwargs))
        raise FileNotFoundError("offline")

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    for overrides, revision in (({}, PINNED[name]), ({"revision": "0123abcd"}, "0123abcd")):
        benchmark = suite(name)
        with pytest.raises(Exception, match="offline"):  # SciCode's rows need its targets too: its source alone
            benchmark.source({**benchmark.data_options, **overrides}).load(2)
        args, kwargs = calls.pop()
        files = kwargs.get("data_files") or []
        assert kwargs.get("revision") == revision or all(f"@{revision}/" in url for url in files) and files


def test_the_recipes_revision_reaches_the_loader_and_is_checked(monkeypatch):
    import datasets

    from pytest_nemoeval.errors import DataError

    monkeypatch.setattr(datasets, "load_dataset", lambda *args, **kwargs: pytest.fail(f"loaded {kwargs}"))
    with pytest.raises(pytest.fail.Exception, match="'revision': '0123abcd'"):
        suite("mmlu_pro").load_rows(None, 2, {"revision": "0123abcd"})
    with pytest.raises(DataError, match=r"unknown data option 'revison' \(known: revision\)"):
        suite("mmlu_pro").load_rows(None, 2, {"revison": "0123abcd"})


def test_a_source_without_revisions_says_so():
    from pytest_nemoeval.errors import DataError

    with pytest.raises(DataError, match="has no revisions to choose from: drop data.revision"):
        suite("bfcl_v3").load_rows(None, 2, {"revision": "abc"})


def test_results_record_the_data_and_prompts_of_each_run(bench, mock_server):
    """results.json names the rows used (source, revision, count, sha256) and the prompts' sha256: a run on
    other rows, or one whose prompt changed, says so."""
    mock = mock_server()
    records = []
    for change in (None, "rows", "prompt"):
        if change == "rows":  # another data file: one answer edited
            data = bench.path / "data" / "mmlu_pro.jsonl"
            data.write_text(data.read_text().replace('"answer": "', '"answer": "X', 1))
        if change == "prompt":
            module = bench.path / "suites" / "test_mmlu_pro.py"
            module.write_text(module.read_text().replace("Answer the following", "Answer this"))
        bench.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data", "--limit-samples", "3")
        records.append(json.loads((bench.path / "results" / "results.json").read_text())
                       ["benchmarks"]["mmlu_pro"]["dataset"])
    first, rows_changed, prompt_changed = records
    assert first["source"].endswith("data/mmlu_pro.jsonl") and first["revision"] is None and first["rows"] == 3
    assert rows_changed["rows_sha256"] != first["rows_sha256"]
    assert prompt_changed["rows_sha256"] == rows_changed["rows_sha256"]
    assert prompt_changed["prompts_sha256"] != rows_changed["prompts_sha256"]
    assert first["rows_sha256"] == suite("mmlu_pro").load_rows(str(EXAMPLES), 3).fingerprint()


# NVIDIA-NeMo/Evaluator 16819ed5, examples/nemotron/nemotron-3-super/local_nemotron-3-super-120b-a12b.yaml (and
# _tools.yaml): repeats and max_new_tokens of the tasks added for the Super recipe, and each one's published judge
SUPER_RECIPE = ROOT / "recipes" / "nemotron_3_super.yaml"
SUPER_TASKS = {"aime2026": (64, None, None), "aime2026_tools": (64, None, None),
               "math500_aa": (5, 131072, "meta/llama-3.3-70b-instruct"),
               "omniscience": (1, 131072, "gemini-3-flash-preview"), "critpt": (3, 131072, None)}


@pytest.mark.parametrize("name", sorted(SUPER_TASKS))
def test_super_recipe_runs_the_added_tasks_as_published_without_a_threshold(name):
    recipe = yaml.safe_load(SUPER_RECIPE.read_text())
    run = RunConfig(tree=recipe, thresholds=[])
    repeats, max_new_tokens, judge = SUPER_TASKS[name]
    benchmark = suite(name)
    assert run.repeats_for(name, benchmark.repeats) == repeats
    generation = run.generation_for(name, benchmark.generation)
    assert (generation["max_new_tokens"], generation["temperature"], generation["top_p"]) == (max_new_tokens, 1.0, 0.95)
    assert benchmark.judge == judge
    assert "thresholds" not in recipe["benchmarks"][name]  # no published score (docs/fidelity.md)
