"""The run in NeMo Evaluator's results layout, so that its export and comparison tooling reads it:
`<dir>/<task>/artifacts/results.yml` with `results.tasks.<task>.metrics.<metric>.scores.<metric>.{value, stats}`
(stats: count, mean, stderr) as nemo_evaluator.api.api_dataclasses.EvaluationResult models it, the
per-category breakdown as `results.groups.<task>.groups.<category>`, and `run_config.yml` (the task and
`target.api_endpoint.model_id`, which nemo-evaluator-launcher's exporters read). Values stay fractions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_nemoeval.results import write_atomic

# benchmark -> NeMo Evaluator task (the published Nemotron 3 Nano evaluation's NeMo Skills tasks); another
# benchmark keeps its own name
TASK_NAMES = {
    "mmlu_pro": "ns_mmlu_pro", "gpqa": "ns_gpqa", "aime25": "ns_aime25", "hmmt_feb25": "ns_hmmt_feb25",
    "livecodebench": "ns_livecodebench", "scicode": "ns_scicode", "ifbench": "ns_ifbench", "hle": "ns_hle",
    "mmluprox": "ns_mmlu_prox", "wmt24pp": "ns_wmt24pp",
    "bfcl_v3": "ns_bfcl_v3", "bfcl_v4": "ns_bfcl_v4", "humaneval": "humaneval",
    "arena_hard_v2": "ns_arena_hard_v2",  # the Nemotron 3 Super evaluation's task
    # the base-model suites: NeMo Evaluator's lm-evaluation-harness types (Nemotron 3 Super evaluation stage)
    "mmlu": "adlr_mmlu", "mmlu_logits": "mmlu_logits", "arc_challenge": "adlr_arc_challenge_llama_25_shot",
    "hellaswag": "hellaswag", "openbookqa": "openbookqa", "winogrande": "adlr_winogrande_5_shot",
}


def task_name(benchmark: str) -> str:
    return TASK_NAMES.get(benchmark, benchmark)


def scores(metrics: dict[str, Any]) -> dict[str, Any]:
    """`{metric: {"scores": {metric: {"value", "stats": {"count", "mean", "stderr"}}}}}` of numeric metrics."""
    result = {}
    for name, summary in metrics.items():
        if not isinstance(summary.get("value"), (int, float)):
            continue
        stats = {"count": summary.get("samples"), "mean": summary["value"], "stderr": summary.get("stderr")}
        score = {"value": float(summary["value"]), "stats": {key: value for key, value in stats.items()
                                                             if value is not None}}
        result[name] = {"scores": {name: score}}
    return result


def evaluation_result(document: dict[str, Any], benchmark: str) -> dict[str, Any]:
    entry, task = document["benchmarks"][benchmark], task_name(benchmark)
    results: dict[str, Any] = {"tasks": {task: {"metrics": scores(entry["metrics"])}}}
    breakdown = entry.get("categories")
    if breakdown:
        results["groups"] = {task: {"metrics": {}, "groups": {
            category: {"metrics": scores(group["metrics"])} for category, group in breakdown["by"].items()}}}
    return results


def export(results_dir: Path, document: dict[str, Any], settings: dict[str, Any]) -> str:
    import yaml

    root = Path(settings.get("nemo_evaluator_dir") or results_dir / "nemo-evaluator").resolve()
    written = []
    for benchmark, entry in document["benchmarks"].items():
        task = task_name(benchmark)
        artifacts = root / task / "artifacts"
        target = {"api_endpoint": {"model_id": document.get("model"), "url": document.get("endpoint")}}
        config = {"type": task, "output_dir": str(artifacts),
                  "params": {"limit_samples": document["config"].get("limit_samples"), "repeats": entry["repeats"],
                             **(entry.get("generation") or {})}}
        results_yml = {"git_hash": document["provenance"].get("git_sha"), "command": f"pytest ({benchmark})",
                       "config": config, "target": target, "results": evaluation_result(document, benchmark),
                       "framework_name": "pytest-nemoeval"}
        write_atomic(artifacts / "results.yml", yaml.safe_dump(results_yml, sort_keys=False))
        write_atomic(artifacts / "run_config.yml", yaml.safe_dump(
            {"framework_name": "pytest-nemoeval", "config": config, "target": target}, sort_keys=False))
        written.append(task)
    return f"{root} ({', '.join(written)})"
