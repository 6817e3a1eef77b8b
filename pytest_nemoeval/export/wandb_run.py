"""The run in Weights & Biases: as for MLflow, one W&B run per benchmark (named after it, grouped by the
session's start time), the resolved configuration as its config, metrics with stderr and CI bounds (per
category too) in its summary, results.json and the benchmark's samples.jsonl as an artifact. The key is
W&B's own (`wandb login` or WANDB_API_KEY), never read here; WANDB_MODE=offline writes the runs locally."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_nemoeval.export import metric_values


def export(results_dir: Path, document: dict[str, Any], settings: dict[str, Any]) -> str:
    import wandb

    directory = Path(settings.get("wandb_dir") or results_dir).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    project = settings.get("wandb_project") or "pytest-nemoeval"
    runs = []
    for benchmark, entry in document["benchmarks"].items():
        config = {"config": document["config"], "model": document.get("model"), "endpoint": document.get("endpoint"),
                  "benchmark": benchmark, "primary_metric": entry["primary_metric"], "repeats": entry["repeats"],
                  "samples": entry["samples"], "generation": entry.get("generation") or {},
                  "provenance": document["provenance"]}
        run = wandb.init(project=project, entity=settings.get("wandb_entity"), dir=str(directory), name=benchmark,
                         group=document["provenance"].get("started"), job_type="evaluation", config=config,
                         reinit="create_new", settings=wandb.Settings(console="off", silent=True))
        try:
            values = metric_values(document, benchmark, False)
            run.log(values)
            run.summary.update(values)
            artifact = wandb.Artifact(f"{benchmark}-results", type="evaluation")
            artifact.add_file(str(results_dir / "results.json"), name="results.json")
            samples = results_dir / benchmark / "samples.jsonl"
            if samples.is_file():
                artifact.add_file(str(samples), name=f"{benchmark}/samples.jsonl")
            run.log_artifact(artifact)
        except BaseException:
            run.finish(exit_code=1)
            raise
        run.finish()
        runs.append(f"{benchmark}={run.id}")
    return f"project {project!r} in {directory}: {', '.join(runs)}"
