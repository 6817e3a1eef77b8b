"""--shard K/N and `python -m pytest_nemoeval merge`: a run split over the SLURM example's job array (run by a
fake sbatch) merges into exactly the run done in one piece; every refusal; the SLURM variables; a failed job
rerun alone sends only what it lacked."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import MMLU_DATA, ROOT, MockServer

from pytest_nemoeval.shard.merge import main as merge_main
from pytest_nemoeval.shard.split import assign, resolve_shard, shard_value

ANSWERS = [["chemical symbol", "Answer: \\boxed{D}"], ["capital of France", "Answer: \\boxed{E}"],
           ["hexagon", "Answer: \\boxed{A}"], ["square root of 81", "Answer: \\boxed{C}"]]
# the same run, whole or in parts: 11 samples x 2 repeats (-k leaves one out), errors, categories, a threshold
# that fails, and a comparison with a baseline run
RUN = ("--data-dir data --limit-samples 12 --repeats 2 --max-retries 0 --baseline base -k 'not s00005' "
       "'--threshold=mmlu_pro.accuracy>=0.5' -p no:cacheprovider -q")
ITEMS = 22


def sbatch_array(project: Path, script: Path, array: str, env: dict[str, str],
                 task_env: dict[int, dict[str, str]] | None = None) -> dict[int, subprocess.CompletedProcess]:
    """A fake `sbatch --array=A-B script`: every task at once on this machine, with SLURM's array variables."""
    assert re.search(r"^#SBATCH --array=\d+-\d+$", script.read_text(), re.M)  # the script is an array job
    first, last = (int(number) for number in array.split("-"))
    running = {}
    for task in range(first, last + 1):
        variables = {**os.environ, **env, **(task_env or {}).get(task, {}),
                     "SLURM_ARRAY_JOB_ID": "4242", "SLURM_JOB_ID": str(4300 + task), "SLURM_ARRAY_TASK_ID": str(task),
                     "SLURM_ARRAY_TASK_MIN": str(first), "SLURM_ARRAY_TASK_MAX": str(last),
                     "SLURM_ARRAY_TASK_COUNT": str(last - first + 1)}
        running[task] = subprocess.Popen(["bash", str(script)], cwd=project, env=variables, text=True,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return {task: subprocess.CompletedProcess(process.args, process.wait(), process.communicate()[0])
            for task, process in running.items()}


def sbatch(project: Path, script: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(script)], cwd=project, env={**os.environ, **env}, text=True,
                          capture_output=True)


def pytest_run(project: Path, endpoint: str, *args: str) -> subprocess.CompletedProcess:
    command = f"{sys.executable} -m pytest suites/ --endpoint {endpoint} {RUN} {' '.join(args)}"
    return subprocess.run(command, shell=True, cwd=project, text=True, capture_output=True)


def cached(results_dir: Path) -> int:
    with sqlite3.connect(results_dir / ".nemoeval" / "cache.sqlite") as connection:
        return connection.execute("SELECT count(*) FROM responses").fetchone()[0]


def comparable(path: Path) -> dict:
    """results.json less timestamps and durations (the comparison's p95 latency is one)."""
    document = json.loads((path / "results.json").read_text())
    del document["provenance"]["started"], document["provenance"]["finished"]
    for entry in document.get("comparison", {}).get("benchmarks", {}).values():
        entry.get("cost", {}).pop("latency_p95", None)
    return document


def rows(path: Path) -> list[dict]:
    lines = (path / "mmlu_pro" / "samples.jsonl").read_text().splitlines()
    return sorted(({key: value for key, value in json.loads(line).items() if key != "latency"} for line in lines),
                  key=lambda row: (row["sample_index"], row["repeat"]))


@pytest.fixture(scope="module")
def split_run(tmp_path_factory):
    """The run in one piece, then in 3 parts by the SLURM example (part 3 with -n 2; part 2's endpoint dies after
    3 answers, and -x stops it, as a dead endpoint does after its retries); then part 2 rerun alone."""
    project = tmp_path_factory.mktemp("split")
    (project / "suites").mkdir()
    shutil.copy(ROOT / "suites" / "test_mmlu_pro.py", project / "suites")
    (project / "data").mkdir()
    shutil.copy(MMLU_DATA, project / "data" / "mmlu_pro.jsonl")
    (project / "answers.json").write_text(json.dumps(ANSWERS))
    scripted = ["--answers", str(project / "answers.json"), "--fail-prompt", "Red Planet"]
    live, dying, other = MockServer(scripted), MockServer([*scripted, "--die-after", "3"]), MockServer([])
    try:
        base = subprocess.run(f"{sys.executable} -m pytest suites/ --endpoint {other.url} --data-dir data "
                              "--limit-samples 12 --repeats 2 -q --results-dir base", shell=True, cwd=project,
                              capture_output=True, text=True)
        assert (project / "base" / "results.json").is_file(), base.stdout
        whole = pytest_run(project, live.url, "--results-dir run/merged")
        assert whole.returncode == 1, whole.stdout  # the threshold fails, and two items errored
        (project / "run" / "merged").rename(project / "whole")
        sent_whole = live.chat_requests()
        assert sent_whole == ITEMS

        env = {"NEMOEVAL_RUN": "run", "NEMOEVAL_ARGS": f"--endpoint {live.url} {RUN}"}
        tasks = sbatch_array(project, ROOT / "examples" / "slurm" / "eval.sbatch", "0-2", env, {
            1: {"NEMOEVAL_ARGS": f"--endpoint {dying.url} {RUN}", "PYTEST_ADDOPTS": "-x"},
            2: {"PYTEST_ADDOPTS": "-n 2"}})
        refused = sbatch(project, ROOT / "examples" / "slurm" / "merge.sbatch", env)
        part = json.loads((project / "run" / "shard-1" / "results.json").read_text())["shard"]
        lacking = part["items"]["mmlu_pro"] - cached(project / "run" / "shard-1")
        before = live.chat_requests()
        # the failed task alone, as `sbatch --array=1 eval.sbatch` reruns it (MIN/COUNT of the original array)
        variables = {**os.environ, **env, "SLURM_ARRAY_JOB_ID": "4242",
                     "SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_COUNT": "3"}
        rerun = subprocess.run(["bash", str(ROOT / "examples" / "slurm" / "eval.sbatch")], cwd=project,
                               env=variables, capture_output=True, text=True)
        sent_rerun = live.chat_requests() - before
        merged = sbatch(project, ROOT / "examples" / "slurm" / "merge.sbatch", env)
    finally:
        for server in (live, dying, other):
            server.stop()
    return {"project": project, "tasks": tasks, "refused": refused, "rerun": rerun, "merged": merged,
            "lacking": lacking, "sent_rerun": sent_rerun, "part": part}


def test_three_jobs_merge_into_exactly_the_run_in_one_piece(split_run):
    project, merged = split_run["project"], split_run["merged"]
    assert merged.returncode == 1, merged.stderr  # the gate's status: the threshold fails, as in one piece
    assert "GATE FAILED: mmlu_pro.accuracy" in merged.stdout
    whole, parts = comparable(project / "whole"), comparable(project / "run" / "merged")
    assert parts == whole
    assert (project / "run" / "merged" / "results.json").read_text().count("\n") > 50  # indented, as a run's
    entry = whole["benchmarks"]["mmlu_pro"]
    assert (entry["samples"], entry["items"], entry["errors"]) == (11, ITEMS, 2)
    assert entry["categories"]["by"]["physics"]["samples"] == 2
    assert whole["comparison"]["benchmarks"]["mmlu_pro"]["comparable"] is True
    assert rows(project / "run" / "merged") == rows(project / "whole")
    shards = json.loads((project / "run" / "merged" / "shards.json").read_text())
    assert [job["shard"] for job in shards] == ["1/3", "2/3", "3/3"]


def test_the_merged_run_exports_as_a_run_does(split_run, tmp_path, capsys):
    from pytest_nemoeval.export.cli import main as export_main

    assert export_main([str(split_run["project"] / "run" / "merged"), "--to", "nemo-evaluator",
                        "--nemo-evaluator-dir", str(tmp_path / "ne")]) == 0
    assert "exported: nemo-evaluator" in capsys.readouterr().out
    assert (tmp_path / "ne" / "ns_mmlu_pro" / "artifacts" / "results.yml").is_file()


def test_each_job_runs_its_part_only_and_records_the_slurm_task_as_k_of_n(split_run):
    project = split_run["project"]
    counts = []
    for task in range(3):
        document = json.loads((project / "run" / f"shard-{task}" / "results.json").read_text())
        assert document["config"]["shard"] == f"{task + 1}/3"  # --shard slurm, array ids from 0
        counts.append(document["shard"]["items"]["mmlu_pro"])
        assert document["shard"]["selected"] == ITEMS
        if task != 1:  # a part's own gate (its threshold fails) is not the job's status: the merge gates the run
            errored = document["benchmarks"]["mmlu_pro"]["errors"]
            assert document["gate"]["passed"] is False and split_run["tasks"][task].returncode == int(errored > 0)
    assert sum(counts) == ITEMS and max(counts) - min(counts) <= 1


def test_a_failed_job_is_named_then_rerun_alone_sends_only_what_it_lacked(split_run):
    assert split_run["tasks"][1].returncode != 0
    refused = split_run["refused"]
    assert refused.returncode == 4
    assert refused.stderr.count("\n") == 1
    assert refused.stderr.startswith("ERROR: shard 2/3 (run/shard-1) is incomplete: it stopped early: ")
    assert "--allow-incomplete" in refused.stderr
    assert 0 < split_run["lacking"] < split_run["part"]["items"]["mmlu_pro"]
    assert split_run["sent_rerun"] == split_run["lacking"]  # the 3 answered before the endpoint died: cached


@pytest.fixture
def parts(split_run, tmp_path, monkeypatch):
    """Copies of the three finished jobs' directories, to spoil (merged where the jobs ran: --baseline base)."""
    monkeypatch.chdir(split_run["project"])
    copies = []
    for task in range(3):
        copy = tmp_path / f"shard-{task}"
        shutil.copytree(split_run["project"] / "run" / f"shard-{task}", copy,
                        ignore=shutil.ignore_patterns(".nemoeval"))
        copies.append(copy)
    return copies


def edit(directory: Path, change) -> None:
    document = json.loads((directory / "results.json").read_text())
    change(document)
    (directory / "results.json").write_text(json.dumps(document))


def refusal(capsys, tmp_path, *dirs: Path, extra: tuple[str, ...] = ()) -> str:
    status = merge_main([*map(str, dirs), "--into", str(tmp_path / "out"), *extra])
    error = capsys.readouterr().err
    assert status == 4 and error.count("\n") == 1 and error.startswith("ERROR: "), error
    assert not (tmp_path / "out" / "results.json").exists()
    return error


@pytest.mark.parametrize("spoil, message", [
    (lambda d: d["config"].update(max_error_rate=0.5), "ran different configurations: max_error_rate is 0.01 in "
                                                       "one and 0.5 in the other"),
    (lambda d: d["benchmarks"]["mmlu_pro"]["dataset"].update(rows_sha256="0" * 64),
     "read different data for mmlu_pro: dataset.rows_sha256"),
    (lambda d: d.update(model="other-model"), "evaluated different models: mock-model and other-model"),
    (lambda d: d["shard"].update(selection="0" * 64), "selected different items"),
    (lambda d: d["shard"].update(count=4), "split the run into different numbers of jobs"),
    (lambda d: d["shard"]["items"].update(mmlu_pro=d["shard"]["items"]["mmlu_pro"] + 1),
     "is incomplete: mmlu_pro ran"),
])
def test_merge_refuses_jobs_that_do_not_make_one_run(parts, capsys, tmp_path, spoil, message):
    edit(parts[1], spoil)
    assert message in refusal(capsys, tmp_path, *parts)


def test_merge_refuses_a_part_twice_a_missing_part_and_an_item_in_two_parts(parts, capsys, tmp_path):
    assert f"shard 1/3 is given more than once: {parts[0]}, {parts[0]}" in refusal(
        capsys, tmp_path, parts[0], parts[0], parts[1], parts[2])
    assert "shard(s) 3/3 missing: merge all 3 parts" in refusal(capsys, tmp_path, parts[0], parts[1])
    foreign = (parts[0] / "mmlu_pro" / "samples.jsonl").read_text().splitlines()[0]
    with open(parts[1] / "mmlu_pro" / "samples.jsonl", "a") as samples:
        samples.write(foreign + "\n")
    assert "is in another job too (overlapping parts)" in refusal(capsys, tmp_path, *parts)
    assert not list((tmp_path / "out").rglob("*.jsonl"))  # nothing half-written


def test_merge_refuses_an_unfinished_job_and_a_run_that_was_not_split(split_run, parts, capsys, tmp_path):
    (parts[2] / "results.json").unlink()
    assert "no results.json: the job did not finish" in refusal(capsys, tmp_path, *parts)
    assert "not a job of a split run" in refusal(capsys, tmp_path, split_run["project"] / "whole")


def test_an_incomplete_job_merges_when_asked(parts, capsys, tmp_path):
    edit(parts[1], lambda d: d["shard"]["items"].update(mmlu_pro=d["shard"]["items"]["mmlu_pro"] + 1))
    status = merge_main([*map(str, parts), "--into", str(tmp_path / "out"), "--allow-incomplete"])
    captured = capsys.readouterr()
    assert status == 1 and "WARNING: shard 2/3" in captured.err
    assert json.loads((tmp_path / "out" / "results.json").read_text())["benchmarks"]["mmlu_pro"]["items"] == ITEMS


def test_the_merge_writes_the_runs_html_report(parts, capsys, tmp_path):
    status = merge_main([*map(str, parts), "--into", str(tmp_path / "out"), "--html", str(tmp_path / "report.html")])
    assert status == 1 and f"report: {tmp_path / 'report.html'}" in capsys.readouterr().out
    page = (tmp_path / "report.html").read_text()
    accuracy = json.loads((tmp_path / "out" / "results.json").read_text())["benchmarks"]["mmlu_pro"]["metrics"]
    assert 'id="nemoeval-score-table"' in page and f"<td>{accuracy['accuracy']['value']:.4f}</td>" in page
    assert "GATE FAILED: mmlu_pro.accuracy" in page


@pytest.mark.parametrize("first, task, expected", [("0", "0", "1/3"), ("0", "2", "3/3"), ("1", "1", "1/3"),
                                                   ("1", "3", "3/3"), (None, "1", "2/3")])
def test_slurm_array_task_ids_from_0_or_1_become_k_of_n(first, task, expected):
    environ = {"SLURM_ARRAY_TASK_ID": task, "SLURM_ARRAY_TASK_COUNT": "3"}
    if first is not None:
        environ["SLURM_ARRAY_TASK_MIN"] = first
    assert resolve_shard(shard_value("slurm"), environ) == expected
    assert resolve_shard("2/5", environ) == "2/5"  # an explicit part wins


@pytest.mark.parametrize("environ, message", [
    ({}, "SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT not set"),
    ({"SLURM_ARRAY_TASK_ID": "8", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "0"}, "contiguous"),
    ({"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "3"}, "whole numbers"),
])
def test_slurm_variables_that_name_no_part_are_one_line(environ, message):
    with pytest.raises(pytest.UsageError, match=message):
        resolve_shard("slurm", environ)


@pytest.mark.parametrize("value", ["0/3", "4/3", "1", "a/b", "1/0"])
def test_shard_values_that_name_no_part_are_one_line(value):
    with pytest.raises(pytest.UsageError, match="--shard must be K/N with 1 <= K <= N"):
        shard_value(value)


def test_the_split_covers_every_item_once_balanced_by_cost_and_the_same_every_time():
    costs = {"aime": [40000] * 6, "gpqa": [9000] * 20, "tiny": [10] * 2, "mmlu": [2000, 3000] * 50}
    jobs = assign(costs, 4)
    assert jobs == assign(dict(reversed(costs.items())), 4)
    assert all(len(jobs[name]) == len(costs[name]) for name in costs)
    load = [sum(cost for name in costs for cost, job in zip(costs[name], jobs[name]) if job == part)
            for part in range(4)]
    assert max(load) - min(load) <= 40000  # within the costliest item
    changes = sum(one != other for one, other in zip(jobs["gpqa"], jobs["gpqa"][1:]))
    assert changes == 3  # 4 contiguous slices: a sample's repeats stay together
    assert all(set(jobs[name]) == {0, 1, 2, 3} for name in ("gpqa", "mmlu"))
