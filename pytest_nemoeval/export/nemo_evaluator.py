"""The run in NeMo Evaluator's results layouts, so that its export and comparison tooling reads it.

NeMo Evaluator 0.3 (`nel compare`, `nel gate`, `nel report`): per benchmark `<dir>/<task>/eval-<time>-<name>.json`
and `<dir>/<task>/results.jsonl`, as nemo_evaluator/engine/artifacts.py (build_artifact_bundle, write_all) writes
them: the bundle's `benchmark` holds name, samples, repeats, scores (`{metric: {value, ci_lower, ci_upper}}`) and
categories (`{category: {mean_reward, n}}`); each results.jsonl row one (sample, repeat) with `problem_idx` (an int:
the sample id, or a stable hash of it), `repeat`, `reward` (1.0 correct, else 0.0) and `metadata.category`;
`metadata.sample_id` and `metadata.prompt_hash` keep what this plugin pairs on.

The older layout, `<dir>/<task>/artifacts/results.yml` with `results.tasks.<task>.metrics.<metric>.scores.<metric>.{value, stats}`
(stats: count, mean, stderr) as nemo_evaluator.api.api_dataclasses.EvaluationResult models it, the
per-category breakdown as `results.groups.<task>.groups.<category>`, and `run_config.yml` (the task and
`target.api_endpoint.model_id`, which nemo-evaluator-launcher's exporters read). Values stay fractions."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Iterator

from pytest_nemoeval.results import write_atomic

NEL_SDK = "0.3.0"  # the NeMo Evaluator release whose bundle this writes (the bundle's sdk_version)

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


def problem_idx(sample_id: Any) -> int:
    """NeMo Evaluator pairs on an integer problem_idx: an integer id as it is, any other id a stable 52-bit hash."""
    if isinstance(sample_id, int) and not isinstance(sample_id, bool):
        return sample_id
    if isinstance(sample_id, str) and sample_id.isdigit():
        return int(sample_id)
    text = sample_id if isinstance(sample_id, str) else json.dumps(sample_id, sort_keys=True)
    return int(hashlib.sha256(text.encode()).hexdigest()[:13], 16)


def result_rows(samples: Path) -> Iterator[dict[str, Any]]:
    """results.jsonl rows from a benchmark's samples.jsonl (an errored item: reward 0.0, its error kept)."""
    with open(samples, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            row = json.loads(line)
            metadata = {"sample_id": row.get("sample_id"), "prompt_hash": row.get("prompt_hash")}
            if row.get("category") is not None:
                metadata["category"] = str(row["category"])
            out = {"problem_idx": problem_idx(row.get("sample_id")), "repeat": int(row.get("repeat", 0)),
                   "reward": 1.0 if row.get("verdict") == "correct" else 0.0,
                   "model_response": row.get("response"), "extracted_answer": _text(row.get("extracted")),
                   "expected_answer": _text(row.get("expected")), "metadata": metadata,
                   "tokens": row.get("tokens"), "latency_ms": None if row.get("latency") is None
                   else round(1000 * row["latency"], 1)}
            if row.get("error") is not None:
                out["scoring_details"] = {"error": row["error"]}
            yield out


def _text(value: Any) -> str | None:
    return None if value is None else (value if isinstance(value, str) else json.dumps(value))


def bundle_scores(metrics: dict[str, Any]) -> dict[str, Any]:
    """`{metric: {value, ci_lower, ci_upper, stderr}}`, the shape of NeMo Evaluator's headline scores."""
    result = {}
    for name, summary in metrics.items():
        if not isinstance(summary.get("value"), (int, float)):
            continue
        score = {"value": float(summary["value"])}
        if isinstance(summary.get("ci95"), list) and len(summary["ci95"]) == 2:
            score["ci_lower"], score["ci_upper"] = map(float, summary["ci95"])
        if isinstance(summary.get("stderr"), (int, float)):
            score["stderr"] = float(summary["stderr"])
        result[name] = score
    return result


def write_bundle(directory: Path, document: dict[str, Any], benchmark: str, samples: Path) -> Path:
    """The NeMo Evaluator 0.3 bundle of one benchmark in `directory` (its only eval-*.json: an earlier export's
    is replaced, as `nel compare` reads a directory's single bundle)."""
    entry = document["benchmarks"][benchmark]
    generation = entry.get("generation") or {}
    config = {"benchmark": benchmark, "model": document.get("model"), "model_url": document.get("endpoint"),
              "repeats": entry["repeats"], "max_problems": document["config"].get("limit_samples"),
              **{key: generation[key] for key in ("temperature", "top_p", "seed", "system_prompt")
                 if generation.get(key) is not None},
              "max_tokens": generation.get("max_tokens", generation.get("max_new_tokens")),  # NeMo Evaluator's name
              # what pytest-nemoeval checks before it pairs two runs, read back by its own compare
              "pytest_nemoeval": {"primary_metric": entry["primary_metric"], "dataset": entry.get("dataset"),
                                  "generation": entry.get("generation"), "errors": entry.get("errors"),
                                  "failures": entry.get("failures"), "per_sample": entry.get("per_sample")}}
    config_hash = hashlib.sha256(json.dumps({key: config[key] for key in sorted(config) if config[key] is not None
                                             and key != "pytest_nemoeval"}, sort_keys=True, default=str).encode())
    finished = document["provenance"].get("finished") or ""
    stamp = re.sub(r"[^0-9T]", "", finished.split("+")[0])[:15] + "Z"
    run_id = f"eval-{stamp}-{re.sub(r'[^a-zA-Z0-9_.-]', '_', benchmark)}"
    rows = list(result_rows(samples)) if samples.is_file() else []
    bundle: dict[str, Any] = {
        "run_id": run_id, "config_hash": f"sha256:{config_hash.hexdigest()}", "sdk_version": NEL_SDK,
        "timestamp": finished, "config": config,
        "benchmark": {"name": benchmark, "samples": entry["samples"], "repeats": entry["repeats"],
                      "scores": bundle_scores(entry["metrics"])},
        "n_results": len(rows), "producer": "pytest-nemoeval"}
    breakdown = (entry.get("categories") or {}).get("by") or {}
    if breakdown:
        primary = entry["primary_metric"]
        bundle["benchmark"]["categories"] = {
            category: {"mean_reward": (group["metrics"].get(primary) or group["metrics"].get("pass@1") or {}).get(
                "value"), "n": group.get("samples")} for category, group in breakdown.items()}
    for old in directory.glob("eval-*.json"):
        old.unlink()
    write_atomic(directory / "results.jsonl", "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    path = directory / f"{run_id}.json"
    write_atomic(path, json.dumps(bundle, indent=2, ensure_ascii=False) + "\n")
    return path


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
        write_bundle(root / task, document, benchmark, results_dir / benchmark / "samples.jsonl")
        written.append(task)
    return f"{root} ({', '.join(written)})"
