"""Options, recipes and the resolved run configuration.

Precedence, lowest first: built-in defaults < ini keys < recipe < command-line flags < --set.
"""

from __future__ import annotations

import copy
import datetime
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from pytest_nemoeval import option_values as values
from pytest_nemoeval.compare.policy import (DEFAULT_MAX_DROP, BenchmarkPolicy, PolicyError, inconclusive_mode,
                                            max_drop_value, parse_gate)
from pytest_nemoeval.export import targets
from pytest_nemoeval.gate import GATE_ON, Threshold, parse_threshold


@dataclass(frozen=True)
class Option:
    """One run setting: its flag, ini key, recipe key, default and converter."""

    key: str
    flag: str
    help: str
    default: Any
    convert: Callable[[Any], Any]
    metavar: str | None = None
    is_flag: bool = False
    repeatable: bool = False


EMBEDDED_JUDGE = "embedded"  # the judge is the run's embedded model (the default when the run serves it)
OPENAI_URL = "https://api.openai.com/v1"  # the judge's default when the model under test is served elsewhere

OPTIONS: tuple[Option, ...] = (
    Option("endpoint", "--endpoint", "OpenAI-compatible base URL (with or without /v1); default: start the embedded CPU model",
           None, values.text, "URL"),
    Option("model", "--model", "served model name (default: first id of /v1/models); with --deploy vllm the "
           "model to serve (hub id or checkpoint directory)", None, values.text, "NAME"),
    Option("api_key_env", "--api-key-env", "environment variable holding the API key", "OPENAI_API_KEY", values.text,
           "VAR"),
    Option("limit_samples", "--limit-samples", "use only the first N samples of each benchmark", None,
           values.positive_int("--limit-samples"), "N"),
    Option("repeats", "--repeats", "override every suite's repeat count", None, values.positive_int("--repeats"), "N"),
    Option("parallelism", "--parallelism", "requests in flight at most", 64, values.positive_int("--parallelism"), "N"),
    Option("request_timeout", "--request-timeout", "seconds per attempt", 600.0,
           values.positive_float("--request-timeout"), "S"),
    Option("context_length", "--context-length", "the served model's context window in tokens (default: what the "
           "server reports, vLLM's max_model_len or llama.cpp's per-slot n_ctx); a request whose prompt and "
           "max_tokens exceed it is not sent and counts as wrong (context_overflow)", None,
           values.positive_int("--context-length"), "N"),
    Option("max_retries", "--max-retries", "retries per request on 429/5xx/connection errors", 5,
           values.non_negative_int("--max-retries"), "N"),
    Option("max_error_rate", "--max-error-rate", "gate: fail the run when more than this fraction of a benchmark's "
           "items errored (errors count as wrong answers either way)", 0.01, values.fraction("--max-error-rate"), "R"),
    # comparison with a baseline run (compare/): verdicts per benchmark, recipe `benchmarks.<name>.gate` as policy
    Option("baseline", "--baseline", "compare with this earlier run's results directory (paired by sample id and "
           "repeat): GO / NO-GO / INCONCLUSIVE per benchmark", None, values.text, "DIR"),
    Option("max_drop", "--max-drop", f"largest drop of a metric accepted as no regression, a fraction (default "
           f"{DEFAULT_MAX_DROP:g}: one point)", DEFAULT_MAX_DROP, values.policy("--max-drop", max_drop_value), "D"),
    Option("inconclusive", "--inconclusive", "an INCONCLUSIVE comparison or threshold: exit status 6 (status), "
           "or pass (0), or fail (1)", "status", values.policy("--inconclusive", inconclusive_mode), "MODE"),
    Option("show_flips", "--show-flips", "list the ids of samples that flipped against the baseline", False,
           values.flag, is_flag=True),
    Option("gate_on", "--gate-on", "thresholds hold on the point estimate (point) or on the 95 percent CI (ci: pass when "
           "the CI clears the value, fail when it misses it, INCONCLUSIVE in between)", "point",
           values.choice("--gate-on", GATE_ON), "point|ci"),
    Option("results_dir", "--results-dir", "where results.json, samples and the response cache go", "results",
           values.text, "DIR"),
    Option("data_dir", "--data-dir", "read DIR/<benchmark>.jsonl (hub schema) instead of downloading", None,
           values.text, "DIR"),
    Option("cache", "--no-cache", "do not reuse or keep responses from earlier runs", True, values.flag, is_flag=True),
    Option("fail_incorrect", "--fail-incorrect", "count wrong answers as test failures (golden-sample tests)",
           False, values.flag, is_flag=True),
    # the sandbox that runs model-written code (code suites; sandbox.py)
    Option("sandbox_workers", "--sandbox-workers", "sandboxed programs running at once (default: CPU cores)",
           os.cpu_count() or 1, values.positive_int("--sandbox-workers"), "N"),
    Option("sandbox_strict", "--sandbox-strict", "refuse to run model-written code without network and "
           "file-system isolation", False, values.flag, is_flag=True),
    # the judge of suites graded by a model (recipe section `judge:`)
    Option("judge.endpoint", "--judge-endpoint", "OpenAI-compatible base URL of the judge model; `embedded`: the "
           "embedded model (default without --endpoint/--deploy, else " + OPENAI_URL + ")", None, values.text, "URL"),
    Option("judge.model", "--judge-model", "judge model of every judged suite (default: each suite's published "
           "judge, e.g. gpt-4o for HLE, gpt-4.1 for Arena-Hard v2)", None, values.text, "NAME"),
    Option("judge.api_key_env", "--judge-api-key-env", "environment variable holding the judge's API key",
           "JUDGE_API_KEY", values.text, "VAR"),
    Option("judge.parallelism", "--judge-parallelism", "judge requests in flight at most", 16,
           values.positive_int("--judge-parallelism"), "N"),
    # exports of the finished run (recipe section `export:`; export/), also `python -m pytest_nemoeval export`
    Option("export.to", "--export", "after the run, export it to mlflow, wandb or nemo-evaluator; repeatable",
           [], targets, "TARGET", repeatable=True),
    Option("export.mlflow_tracking_uri", "--mlflow-tracking-uri", "MLflow tracking URI (default: "
           "MLFLOW_TRACKING_URI, else sqlite:///<results-dir>/mlflow.db)", None, values.text, "URI"),
    Option("export.mlflow_experiment", "--mlflow-experiment", "MLflow experiment", "pytest-nemoeval", values.text,
           "NAME"),
    Option("export.wandb_project", "--wandb-project", "W&B project", "pytest-nemoeval", values.text, "NAME"),
    Option("export.wandb_entity", "--wandb-entity", "W&B entity (default: the key's)", None, values.text, "NAME"),
    Option("export.wandb_dir", "--wandb-dir", "where W&B keeps its run files (default: the results dir)", None,
           values.text, "DIR"),
    Option("export.nemo_evaluator_dir", "--nemo-evaluator-dir", "where the NeMo Evaluator layout goes (default: "
           "<results-dir>/nemo-evaluator)", None, values.text, "DIR"),
    # a server the plugin starts itself (recipe section `deployment:`); --model is the model to serve
    Option("deployment.backend", "--deploy", "start this server for the run: vllm (default without --endpoint: "
           "the embedded CPU model)", None, values.text, "BACKEND"),
    Option("deployment.tensor_parallel_size", "--tensor-parallel-size", "vLLM tensor parallel size (default 1)",
           None, values.positive_int("--tensor-parallel-size"), "N"),
    Option("deployment.data_parallel_size", "--data-parallel-size", "vLLM data parallel size (default 1)",
           None, values.positive_int("--data-parallel-size"), "N"),
    Option("deployment.expert_parallel", "--expert-parallel", "vLLM expert parallelism over N GPUs: "
           "--enable-expert-parallel with TP x DP = N (TP=1, DP=N unless given)", None,
           values.positive_int("--expert-parallel"), "N"),
    Option("deployment.served_model_name", "--served-model-name", "name the deployed model is served as "
           "(default: --model)", None, values.text, "NAME"),
    Option("deployment.timeout", "--deploy-timeout", "seconds to wait for the server to be ready "
           "(default 1800 for vLLM, 180 for the embedded model)", None, values.positive_float("--deploy-timeout"), "S"),
    Option("deployment.max_model_len", "--max-model-len", "vLLM --max-model-len: the context window to serve "
           "(a 1M-token RULER run needs it, with the rope settings in --hf-overrides)", None,
           values.positive_int("--max-model-len"), "N"),
    Option("deployment.hf_overrides", "--hf-overrides", "vLLM --hf-overrides: JSON object overriding the model's "
           "config, e.g. its rope_scaling for a context beyond the trained one", None,
           values.json_object("--hf-overrides"), "JSON"),
    Option("deployment.args", "--deploy-arg", "argument passed verbatim to the server, e.g. "
           "--deploy-arg='--max-model-len 32768'; repeatable", None, values.arguments, "ARG", repeatable=True),
)
OPTION_BY_KEY = {option.key: option for option in OPTIONS}
# sections of dotted options, e.g. judge: {endpoint, model, ...}
SECTIONS: dict[str, set[str]] = {}
for _option in OPTIONS:
    if "." in _option.key:
        SECTIONS.setdefault(_option.key.split(".")[0], set()).add(_option.key.split(".", 1)[1])
RECIPE_KEYS = {key for key in OPTION_BY_KEY if "." not in key} - {"results_dir"} | {"generation", "benchmarks"} | set(
    SECTIONS)
BENCHMARK_KEYS = {"repeats", "generation", "thresholds", "limit_samples", "data", "gate", "judge_model"}
GENERATION_KEYS = {"max_new_tokens", "temperature", "top_p", "top_k", "seed", "stop", "system_prompt", "extra_body",
                   "max_length", "pin_slots",  # log-likelihood items (suite.LOCAL_SETTINGS)
                   "max_tool_calls"}  # tool suites (suite.LOCAL_SETTINGS)


def _dest(option: Option) -> str:
    return "nemoeval_" + option.key.replace(".", "_")


def _get(tree: dict[str, Any], key: str) -> Any:
    section, _, name = key.rpartition(".")
    node = tree.get(section) if section else tree
    return node.get(name) if isinstance(node, dict) else None


def _put(tree: dict[str, Any], key: str, value: Any) -> None:
    section, _, name = key.rpartition(".")
    (tree.setdefault(section, {}) if section else tree)[name] = value


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("nemoeval", "LLM benchmarks (pytest-nemoeval)")
    for option in OPTIONS:
        ini = _dest(option)
        if option.repeatable:
            group.addoption(option.flag, action="append", default=None, dest=ini, metavar=option.metavar,
                            help=f"{option.help} (ini: {ini}, one per line)")
            parser.addini(ini, option.help, type="linelist", default=[])
        elif option.is_flag:
            group.addoption(option.flag, action="store_true", default=None, dest=ini,
                            help=f"{option.help} (ini: {ini} = {str(not option.default).lower()})")
            parser.addini(ini, option.help, type="bool", default=None)
        else:
            group.addoption(option.flag, default=None, dest=ini, metavar=option.metavar,
                            help=f"{option.help} (ini: {ini})")
            parser.addini(ini, option.help, default=None)
    group.addoption("--recipe", default=None, dest="nemoeval_recipe", metavar="FILE",
                    help="YAML recipe: endpoint/model defaults, generation defaults, per-benchmark overrides, thresholds")
    parser.addini("nemoeval_recipe", "YAML recipe file", default=None)
    group.addoption("--set", action="append", default=[], dest="nemoeval_set", metavar="KEY=VALUE",
                    help="override a configuration key (dotted, e.g. generation.temperature=0.6); repeatable")
    group.addoption("--threshold", action="append", default=[], dest="nemoeval_threshold",
                    metavar="BENCH.METRIC>=VALUE", help="score gate, also <=; repeatable")


def _load_yaml(text: str, where: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise pytest.UsageError(f"{where}{line}: not valid YAML ({getattr(exc, 'problem', exc)})") from None


def load_recipe(path: str) -> dict[str, Any]:
    recipe_path = Path(path)
    if not recipe_path.is_file():
        raise pytest.UsageError(f"--recipe {path}: no such file")
    data = _load_yaml(recipe_path.read_text(encoding="utf-8"), f"recipe {path}")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise pytest.UsageError(f"recipe {path}: the top level must be a mapping of keys, got {type(data).__name__}")
    validate_tree(data, f"recipe {path}")
    return data


def validate_tree(data: dict[str, Any], where: str) -> None:
    """Reject unknown keys with the list of known ones, so typos never pass silently."""
    _check_keys(data, RECIPE_KEYS, where, "")
    for section, known in SECTIONS.items():
        if section in data:
            if not isinstance(data[section], dict):
                raise pytest.UsageError(f"{where}: '{section}' must be a mapping (keys: {', '.join(sorted(known))})")
            _check_keys(data[section], known, where, f"{section}.")
    if "generation" in data:
        _check_generation(data["generation"], where, "generation")
    benchmarks = data.get("benchmarks") or {}
    if not isinstance(benchmarks, dict):
        raise pytest.UsageError(f"{where}: 'benchmarks' must be a mapping of benchmark name to settings")
    for name, section in benchmarks.items():
        if section is None:
            continue
        if not isinstance(section, dict):
            raise pytest.UsageError(f"{where}: 'benchmarks.{name}' must be a mapping")
        _check_keys(section, BENCHMARK_KEYS, where, f"benchmarks.{name}.")
        if "generation" in section:
            _check_generation(section["generation"], where, f"benchmarks.{name}.generation")
        if not isinstance(section.get("data") or {}, dict):
            raise pytest.UsageError(f"{where}: 'benchmarks.{name}.data' must be a mapping of dataset options")
        if section.get("gate") is not None:
            try:
                parse_gate(section["gate"], f"benchmarks.{name}.gate")
            except PolicyError as exc:
                raise pytest.UsageError(f"{where}: {exc}") from None
        thresholds = section.get("thresholds") or []
        if not isinstance(thresholds, list):
            raise pytest.UsageError(f"{where}: 'benchmarks.{name}.thresholds' must be a list like ['accuracy>=0.7']")


def _check_keys(section: dict[str, Any], known: set[str], where: str, prefix: str) -> None:
    for key in section:
        if key not in known:
            raise pytest.UsageError(
                f"{where}: unknown key '{prefix}{key}' (known: {', '.join(sorted(known))})")


def _check_generation(section: Any, where: str, prefix: str) -> None:
    if not isinstance(section, dict):
        raise pytest.UsageError(f"{where}: '{prefix}' must be a mapping")
    _check_keys(section, GENERATION_KEYS, where, f"{prefix}.")


def apply_set(tree: dict[str, Any], assignment: str) -> None:
    """Apply one --set KEY=VALUE (dotted key, YAML scalar value) to the configuration tree."""
    key, sep, raw = assignment.partition("=")
    key = key.strip()
    if not sep or not key:
        raise pytest.UsageError(f"--set {assignment!r}: expected KEY=VALUE, e.g. --set generation.temperature=0.6")
    value = _load_yaml(raw, f"--set {key}") if raw.strip() else None
    parts = key.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise pytest.UsageError(f"--set {key}: '{part}' is not a section")
        node = child
    node[parts[-1]] = value


@dataclass
class RunConfig:
    """The fully resolved configuration of one run; `as_dict()` goes into results.json."""

    tree: dict[str, Any]
    thresholds: list[Threshold]
    # the benchmarks the recipe file names: the set the run covers (None: no recipe, or it names none)
    recipe_benchmarks: frozenset[str] | None = None

    def __getattr__(self, key: str) -> Any:
        if key in OPTION_BY_KEY:
            return self.tree[key]
        raise AttributeError(key)

    def judge_model(self, benchmark: str, published: str) -> str:
        """The judge model of a judged suite: the recipe's `benchmarks.<name>.judge_model`, else --judge-model
        (recipe `judge.model`), else the suite's published judge (Suite.judge)."""
        return str(self.benchmark(benchmark).get("judge_model") or self.tree["judge"]["model"] or published)

    def covers(self, benchmark: str) -> bool:
        """Does the run cover this suite? A recipe that names benchmarks runs those only."""
        return self.recipe_benchmarks is None or benchmark in self.recipe_benchmarks

    def section(self, name: str) -> dict[str, Any]:
        """A section of dotted options, e.g. `section("judge")["endpoint"]`."""
        return self.tree[name]

    def benchmark(self, name: str) -> dict[str, Any]:
        return (self.tree.get("benchmarks") or {}).get(name) or {}

    def generation_for(self, name: str, suite_defaults: dict[str, Any]) -> dict[str, Any]:
        merged = dict(suite_defaults)
        merged.update(self.tree.get("generation") or {})
        merged.update(self.benchmark(name).get("generation") or {})
        return merged

    def policy(self) -> dict[str, BenchmarkPolicy]:
        """The comparison policy of each benchmark with a recipe `gate:` (validated with the recipe)."""
        return {name: parse_gate(section["gate"], f"benchmarks.{name}.gate")
                for name, section in (self.tree.get("benchmarks") or {}).items()
                if isinstance(section, dict) and section.get("gate") is not None}

    def repeats_for(self, name: str, suite_default: int) -> int:
        if self.tree.get("repeats") is not None:
            return int(self.tree["repeats"])
        return int(self.benchmark(name).get("repeats") or suite_default)

    def limit_for(self, name: str) -> int | None:
        if self.tree.get("limit_samples") is not None:
            return int(self.tree["limit_samples"])
        limit = self.benchmark(name).get("limit_samples")
        return int(limit) if limit is not None else None

    def as_dict(self) -> dict[str, Any]:
        tree = copy.deepcopy(self.tree)
        tree["thresholds"] = [str(threshold) for threshold in self.thresholds]
        return tree


def _check_baseline(directory: str) -> None:
    from pytest_nemoeval.compare.pairing import UnreadableRun, read_results

    try:
        read_results(Path(directory), "--baseline")
    except UnreadableRun as exc:
        raise pytest.UsageError(str(exc)) from None


def resolve(config: pytest.Config) -> RunConfig:
    tree: dict[str, Any] = {"generation": {}, "benchmarks": {}}
    for option in OPTIONS:
        _put(tree, option.key, option.default)
    for option in OPTIONS:
        ini = config.getini(_dest(option))
        if ini not in (None, "", []):
            _put(tree, option.key, ini)
    recipe_path = config.getoption("nemoeval_recipe") or config.getini("nemoeval_recipe")
    recipe_benchmarks = None
    if recipe_path:
        tree["recipe"] = str(recipe_path)
        recipe = load_recipe(str(recipe_path))
        recipe_benchmarks = frozenset(recipe.get("benchmarks") or {}) or None
        for key, value in recipe.items():
            if key in SECTIONS:
                tree[key].update(value)
            else:
                tree[key] = value
    for option in OPTIONS:
        value = config.getoption(_dest(option))
        if value is not None:
            # --no-cache is a store_true flag for the `cache` key, so it means False.
            _put(tree, option.key, (not value) if option.key == "cache" else value)
    for assignment in config.getoption("nemoeval_set"):
        apply_set(tree, assignment)
    validate_tree({k: v for k, v in tree.items() if k in RECIPE_KEYS}, "--set")
    for option in OPTIONS:
        if _get(tree, option.key) is not None:
            _put(tree, option.key, option.convert(_get(tree, option.key)))
    tree["results_dir"] = os.fspath(Path(tree["results_dir"]))
    if tree["baseline"] is not None:
        _check_baseline(str(tree["baseline"]))
    if tree["judge"]["endpoint"] is None:  # a run on the embedded model is graded by it too: offline, no key
        embedded = tree["endpoint"] is None and tree["deployment"]["backend"] is None
        tree["judge"]["endpoint"] = EMBEDDED_JUDGE if embedded else OPENAI_URL
    thresholds = [parse_threshold(text, "--threshold") for text in config.getoption("nemoeval_threshold")]
    for name, section in (tree.get("benchmarks") or {}).items():
        if (section or {}).get("data"):  # YAML reads 2024-07-01 as a date; keep the configuration JSON
            section["data"] = {key: value.isoformat() if isinstance(value, datetime.date) else value
                               for key, value in section["data"].items()}
        for text in (section or {}).get("thresholds") or []:
            thresholds.append(parse_threshold(f"{name}.{text}", "recipe"))
    return RunConfig(tree=tree, thresholds=thresholds, recipe_benchmarks=recipe_benchmarks)
