"""Exports to where teams keep results, each against its real library and a local backend: NeMo Evaluator's
results layout (checked with its own results model), MLflow (a sqlite tracking store), Weights & Biases
(offline: the run files it writes); in a run (--export) and for a finished run (python -m pytest_nemoeval export)."""

from __future__ import annotations

import fnmatch
import json
import struct
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
import yaml
from nemo_evaluator.api.api_dataclasses import EvaluationResult
from wandb.proto import wandb_internal_pb2

from helpers import results

# imported here, not in the tests: pytester removes what a test imported, and numpy cannot be imported twice

SECRET = "sk-nemoeval-test-secret-4242"


def run(bench: pytest.Pytester, mock, *args: str) -> pytest.RunResult:
    return bench.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data", "--limit-samples", "10",
                                      *args)


def export_cli(bench: pytest.Pytester, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest_nemoeval", "export", *args], cwd=bench.path,
                          capture_output=True, text=True, timeout=240)


def nothing_holds_the_key(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_nemo_evaluator_layout_is_read_by_its_own_results_model(bench, mock_server):
    mock = mock_server()
    result = run(bench, mock, "--export", "nemo-evaluator")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["exported: nemo-evaluator: */results/nemo-evaluator (ns_mmlu_pro)"])
    artifacts = bench.path / "results" / "nemo-evaluator" / "ns_mmlu_pro" / "artifacts"
    document = yaml.safe_load((artifacts / "results.yml").read_text())
    parsed = EvaluationResult.model_validate(document["results"])
    ours = results(bench)["benchmarks"]["mmlu_pro"]
    accuracy = parsed.tasks["ns_mmlu_pro"].metrics["accuracy"].scores["accuracy"]
    assert accuracy.value == pytest.approx(0.1) == ours["metrics"]["accuracy"]["value"]
    assert accuracy.stats.stderr == pytest.approx(ours["metrics"]["accuracy"]["stderr"])
    assert accuracy.stats.count == 10
    assert set(parsed.tasks["ns_mmlu_pro"].metrics) == set(ours["metrics"])
    categories = parsed.groups["ns_mmlu_pro"].groups
    assert set(categories) == set(ours["categories"]["by"])
    math = categories["math"].metrics["accuracy"].scores["accuracy"]
    assert (math.value, math.stats.count) == (pytest.approx(0.25), 4)  # the first 10 rows: 4 math, one of them B
    run_config = yaml.safe_load((artifacts / "run_config.yml").read_text())
    assert run_config["target"]["api_endpoint"]["model_id"] == "mock-model"
    assert run_config["config"]["type"] == "ns_mmlu_pro"


def test_export_command_exports_a_finished_run(bench, mock_server):
    mock = mock_server()
    assert run(bench, mock).ret == 0
    before = (bench.path / "results" / "results.json").read_bytes()
    done = export_cli(bench, "results", "--to", "nemo-evaluator", "--nemo-evaluator-dir", "ne")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("exported: nemo-evaluator: ")
    assert yaml.safe_load((bench.path / "ne" / "ns_mmlu_pro" / "artifacts" / "results.yml").read_text())[
        "results"]["tasks"]["ns_mmlu_pro"]["metrics"]["pass@1"]["scores"]["pass@1"]["value"] == pytest.approx(0.1)
    assert (bench.path / "results" / "results.json").read_bytes() == before


@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy")  # MLflow's store, on SQLAlchemy 2
def test_mlflow_one_run_per_benchmark_in_a_sqlite_store(bench, mock_server, monkeypatch):
    monkeypatch.setenv("NEMOEVAL_TEST_KEY", SECRET)
    mock = mock_server("--require-key", SECRET)
    uri = f"sqlite:///{bench.path / 'tracking' / 'mlflow.db'}"
    (bench.path / "tracking").mkdir()
    started = time.monotonic()
    result = run(bench, mock, "--api-key-env", "NEMOEVAL_TEST_KEY", "--export", "mlflow", "--mlflow-tracking-uri",
                 uri, "--mlflow-experiment", "nightly", "-n", "2")
    elapsed = time.monotonic() - started
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines([f"exported: mlflow: {uri} experiment 'nightly': mmlu_pro=*"])
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("nightly")
    (found,) = client.search_runs([experiment.experiment_id])
    ours = results(bench)
    accuracy = ours["benchmarks"]["mmlu_pro"]["metrics"]["accuracy"]
    assert found.info.run_name == "mmlu_pro" and found.info.status == "FINISHED"
    assert found.data.metrics["accuracy"] == pytest.approx(0.1)
    assert found.data.metrics["accuracy.stderr"] == pytest.approx(accuracy["stderr"])
    assert found.data.metrics["accuracy.ci95_high"] == pytest.approx(accuracy["ci95"][1])
    assert found.data.metrics["pass_at_1.ci95_low"] == pytest.approx(0.0)
    assert found.data.metrics["category/math/accuracy"] == pytest.approx(0.25)
    assert found.data.params["config.limit_samples"] == "10"
    assert found.data.params["config.api_key_env"] == "NEMOEVAL_TEST_KEY"
    assert found.data.params["generation.temperature"] == "0.0"
    assert found.data.tags["nemoeval.session"] == ours["provenance"]["started"]
    local = Path(client.download_artifacts(found.info.run_id, "", str(bench.path / "downloaded")))
    assert json.loads((local / "results.json").read_text()) == ours
    assert len((local / "mmlu_pro" / "samples.jsonl").read_text().splitlines()) == 10
    nothing_holds_the_key(bench.path / "tracking")
    nothing_holds_the_key(local)
    print(f"run with the MLflow export: {elapsed:.1f} s")


def wandb_records(path: Path) -> list:
    """The records of a W&B transaction log (.wandb): a 7-byte header, then LevelDB-log-style 32 KiB blocks of
    records (crc32, length, type; FULL / FIRST / MIDDLE / LAST), each payload a wandb Record protobuf."""
    data = path.read_bytes()
    assert data[:4] == b":W&B"
    records, offset, pending = [], 7, b""
    while offset + 7 <= len(data):
        if 32768 - offset % 32768 < 7:  # the block's tail is padding
            offset += 32768 - offset % 32768
            continue
        _, length, kind = struct.unpack("<IHB", data[offset:offset + 7])
        pending += data[offset + 7:offset + 7 + length]
        offset += 7 + length
        if kind in (1, 4):  # FULL, LAST
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
        elif kind == 0:
            break
    return records


def test_wandb_offline_run_files_hold_config_metrics_and_artifacts(bench, mock_server, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("NEMOEVAL_TEST_KEY", SECRET)
    mock = mock_server("--require-key", SECRET)
    result = run(bench, mock, "--api-key-env", "NEMOEVAL_TEST_KEY", "--export", "wandb", "--wandb-project", "evals")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["exported: wandb: project 'evals' in */results: mmlu_pro=*"])
    (log,) = (bench.path / "results" / "wandb").glob("offline-run-*/run-*.wandb")
    records = wandb_records(log)
    kinds = {record.WhichOneof("record_type") for record in records}
    assert {"run", "history", "summary", "artifact"} <= kinds
    run_record = next(record.run for record in records if record.WhichOneof("record_type") == "run")
    assert (run_record.project, run_record.display_name) == ("evals", "mmlu_pro")
    config = {item.key: json.loads(item.value_json) for item in run_record.config.update}
    assert config["config"]["limit_samples"] == 10 and config["benchmark"] == "mmlu_pro"
    summary = {item.key: json.loads(item.value_json) for record in records
               if record.WhichOneof("record_type") == "summary" for item in record.summary.update}
    ours = results(bench)["benchmarks"]["mmlu_pro"]["metrics"]
    assert summary["accuracy"] == pytest.approx(0.1)
    assert summary["accuracy.ci95_high"] == pytest.approx(ours["accuracy"]["ci95"][1])
    assert summary["pass@1.stderr"] == pytest.approx(ours["pass@1"]["stderr"])
    assert summary["category/math/accuracy"] == pytest.approx(0.25)
    artifact = next(record.artifact for record in records if record.WhichOneof("record_type") == "artifact")
    assert artifact.name == "mmlu_pro-results"
    assert {entry.path for entry in artifact.manifest.contents} == {"results.json", "mmlu_pro/samples.jsonl"}
    nothing_holds_the_key(bench.path / "results" / "wandb")


def test_unreachable_tracking_uri_is_one_line_and_results_are_kept(bench, mock_server):
    mock = mock_server()
    started = time.monotonic()
    result = run(bench, mock, "--export", "nemo-evaluator", "--export", "mlflow",
                 "--mlflow-tracking-uri", "http://user:hunter2@127.0.0.1:9")
    elapsed = time.monotonic() - started
    assert result.ret == 1
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1 and errors[0].startswith("ERROR: export to mlflow failed: "), result.stderr.lines
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert "hunter2" not in result.stdout.str() + result.stderr.str()
    assert results(bench)["benchmarks"]["mmlu_pro"]["metrics"]["accuracy"]["value"] == pytest.approx(0.1)
    assert (bench.path / "results" / "nemo-evaluator" / "ns_mmlu_pro" / "artifacts" / "results.yml").is_file()
    assert elapsed < 120


def test_missing_library_is_one_line_before_anything_is_sent(bench, mock_server):
    bench.makeconftest("import sys\nsys.modules['wandb'] = None  # as if it were not installed\n")
    mock = mock_server()
    result = run(bench, mock, "--export", "wandb")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --export wandb needs the wandb package: pip install 'pytest-nemoeval[wandb]'"])
    assert mock.chat_requests() == 0


@pytest.mark.parametrize("args, message", [
    (["nowhere", "--to", "mlflow"], "ERROR: */nowhere has no results.json: is it a finished run's --results-dir?"),
    (["results", "--to", "sheets"], "ERROR: --to sheets: unknown export target (known: mlflow, wandb, nemo-evaluator)"),
], ids=["no-run", "unknown-target"])
def test_export_command_bad_input_is_one_line(bench, mock_server, args, message):
    if args[0] == "results":
        assert run(bench, mock_server()).ret == 0
    done = export_cli(bench, *args)
    assert done.returncode == 4
    assert [line for line in done.stderr.splitlines() if line.strip()] == [line for line in done.stderr.splitlines()
                                                                           if line.startswith("ERROR:")]
    assert len(done.stderr.splitlines()) == 1
    assert fnmatch.fnmatch(done.stderr.strip(), message), done.stderr


def test_export_settings_come_from_the_recipe(bench, mock_server):
    (bench.path / "recipe.yaml").write_text("export:\n  to: [nemo-evaluator]\n  nemo_evaluator_dir: ne-layout\n")
    mock = mock_server()
    result = run(bench, mock, "--recipe", "recipe.yaml")
    assert result.ret == 0
    assert (bench.path / "ne-layout" / "ns_mmlu_pro" / "artifacts" / "results.yml").is_file()
    assert results(bench)["config"]["export"]["to"] == ["nemo-evaluator"]




def test_base_model_suites_export_under_nemo_evaluators_type_names():
    """The Nemotron 3 Super evaluation stage's types (framework.yml of nvidia-lm-eval 26.3), so that its
    comparison tooling lines our runs up with the published ones."""
    from pytest_nemoeval.export.nemo_evaluator import task_name

    assert [task_name(name) for name in ("mmlu", "arc_challenge", "hellaswag", "openbookqa", "winogrande")] == [
        "adlr_mmlu", "adlr_arc_challenge_llama_25_shot", "hellaswag", "openbookqa", "adlr_winogrande_5_shot"]
