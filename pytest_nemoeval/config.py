"""Recipes and the resolved run configuration (the options themselves: options.py).

Precedence, lowest first: built-in defaults < ini keys < recipe < command-line flags < --set.
"""

from __future__ import annotations

import copy
import datetime
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_nemoeval import aggregates
from pytest_nemoeval.compare.policy import BenchmarkPolicy, PolicyError, parse_gate
from pytest_nemoeval.gate import Threshold, parse_threshold
from pytest_nemoeval.options import (BENCHMARK_KEYS, EMBEDDED_JUDGE, GENERATION_KEYS, OPENAI_URL, OPTION_BY_KEY,
                                     OPTIONS, RECIPE_KEYS, SECTIONS, ini_name)
from pytest_nemoeval.shard.split import resolve_shard


def _get(tree: dict[str, Any], key: str) -> Any:
    section, _, name = key.rpartition(".")
    node = tree.get(section) if section else tree
    return node.get(name) if isinstance(node, dict) else None


def _put(tree: dict[str, Any], key: str, value: Any) -> None:
    section, _, name = key.rpartition(".")
    (tree.setdefault(section, {}) if section else tree)[name] = value


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
    if data.get("aggregates") is not None:
        aggregates.validate(data["aggregates"], where)
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

    def user_key_env(self) -> str:
        """The user simulator's key variable: --user-api-key-env, else the model's with the default endpoint,
        else USER_API_KEY (the name tau2-bench's NeMo Evaluator task reads)."""
        user = self.tree["user"]
        return str(user["api_key_env"] or (self.tree["api_key_env"] if user["endpoint"] is None else "USER_API_KEY"))

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
    from pytest_nemoeval.compare.runs import UnreadableRun, read_run

    try:
        read_run(Path(directory), "--baseline")
    except UnreadableRun as exc:
        raise pytest.UsageError(str(exc)) from None


def resolve(config: pytest.Config) -> RunConfig:
    tree: dict[str, Any] = {"generation": {}, "benchmarks": {}}
    for option in OPTIONS:
        _put(tree, option.key, option.default)
    for option in OPTIONS:
        ini = config.getini(ini_name(option))
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
        value = config.getoption(ini_name(option))
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
    if tree["shard"] is not None:  # `slurm` is recorded as the part it stands for
        tree["shard"] = resolve_shard(tree["shard"])
    if tree["baseline"] is not None:
        _check_baseline(str(tree["baseline"]))
    if tree["until_decided"] and tree["baseline"] is None:
        raise pytest.UsageError("--until-decided needs --baseline DIR: the extra repeats decide the comparison with "
                                "a baseline run")
    if tree["until_decided"] and tree["shard"] is not None:
        raise pytest.UsageError("--until-decided does not combine with --shard: a job's part cannot decide the "
                                "comparison; run the undecided benchmarks again in one job")
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
    thresholds += aggregates.thresholds(tree.get("aggregates"))
    return RunConfig(tree=tree, thresholds=thresholds, recipe_benchmarks=recipe_benchmarks)
