"""The run in MLflow: one MLflow run per benchmark (named after it, tagged with the session's start time so
that a session's runs are found together), params from the resolved configuration, metrics with stderr and
CI bounds (per category too), results.json and the benchmark's samples.jsonl as artifacts."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from pytest_nemoeval.export import flat, metric_values, without_password

PARAM_LENGTH = 6000  # MLflow's limit on a param value


def tracking_uri(results_dir: Path, settings: dict[str, Any]) -> str:
    """--mlflow-tracking-uri, else MLFLOW_TRACKING_URI, else a sqlite store in the results directory."""
    return settings.get("mlflow_tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI") or default_uri(results_dir)


def default_uri(results_dir: Path) -> str:
    return f"sqlite:///{results_dir.resolve() / 'mlflow.db'}"


def export(results_dir: Path, document: dict[str, Any], settings: dict[str, Any]) -> str:
    # an unreachable tracking server fails in seconds, not after MLflow's minutes of retries
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # its store's set-up lines are not the run's output
    logging.getLogger("alembic").setLevel(logging.WARNING)
    uri = tracking_uri(results_dir, settings)
    client = mlflow.MlflowClient(tracking_uri=uri)
    name = settings.get("mlflow_experiment") or "pytest-nemoeval"
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        experiment_id = experiment.experiment_id
    else:  # on the default store, artifacts go beside it (MLflow's default is ./mlruns of the working directory)
        location = None if uri != default_uri(results_dir) else (results_dir.resolve() / "mlartifacts").as_uri()
        experiment_id = client.create_experiment(name, artifact_location=location)
    session = document["provenance"].get("started", "")
    params = {key: value[:PARAM_LENGTH] for key, value in flat(document["config"], "config").items()}
    params.update({"model": str(document.get("model")), "endpoint": str(document.get("endpoint"))})
    runs = []
    for benchmark, entry in document["benchmarks"].items():
        run = client.create_run(experiment_id, run_name=benchmark, tags={
            "nemoeval.benchmark": benchmark, "nemoeval.session": session,
            "nemoeval.primary_metric": entry["primary_metric"], "nemoeval.model": str(document.get("model"))})
        run_id = run.info.run_id
        try:
            benchmark_params = {**params, **flat(entry.get("generation") or {}, "generation"),
                                "repeats": str(entry["repeats"]), "samples": str(entry["samples"])}
            from mlflow.entities import Metric, Param

            metrics = [Metric(key, value, 0, 0) for key, value in metric_values(document, benchmark, True).items()]
            params_list = [Param(key, value) for key, value in benchmark_params.items()]
            for start in range(0, max(len(params_list), len(metrics)), 100):  # MLflow's batch limits
                client.log_batch(run_id, metrics=metrics[start:start + 100], params=params_list[start:start + 100])
            client.log_artifact(run_id, str(results_dir / "results.json"))
            samples = results_dir / benchmark / "samples.jsonl"
            if samples.is_file():
                client.log_artifact(run_id, str(samples), artifact_path=benchmark)
        except BaseException:
            client.set_terminated(run_id, "FAILED")
            raise
        client.set_terminated(run_id, "FINISHED")
        runs.append(f"{benchmark}={run_id}")
    return f"{without_password(uri)} experiment {name!r}: {', '.join(runs)}"
