"""The one table of run settings: each option's flag, ini key, recipe key, default and converter, and the
recipe's other keys. `add_options` turns the table into pytest options and ini keys."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from pytest_nemoeval import option_values as values
from pytest_nemoeval.compare.policy import DEFAULT_MAX_DROP, correction_method, inconclusive_mode, max_drop_value
from pytest_nemoeval.compare.sequential import SPENDING
from pytest_nemoeval.export import targets
from pytest_nemoeval.gate import GATE_ON
from pytest_nemoeval.shard.split import shard_value


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
CRITPT_API_URL = "https://artificialanalysis.ai/api/v2/critpt/evaluate"  # NeMo Skills' CritPtEvaluatorConfig.api_url

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
    Option("request_timeout", "--request-timeout", "seconds per attempt (a streamed reply: seconds "
           "to its first chunk, then between two chunks)", 600.0,
           values.positive_float("--request-timeout"), "S"),
    Option("stream", "--stream", "auto: chat requests with a long prompt (32,000 characters, about 8K tokens) are "
           "streamed, so that the status line counts their tokens while they are in flight and --request-timeout "
           "bounds each wait for the next chunk, not the whole reply; on: every chat request without tools; off: "
           "none. A streamed reply is assembled into the same reply; an endpoint that refuses streaming is sent "
           "whole", "auto", values.choice("--stream", ("auto", "on", "off")), "auto|on|off"),
    Option("context_length", "--context-length", "the served model's context window in tokens (default: what the "
           "server reports, vLLM's max_model_len or llama.cpp's per-slot n_ctx); a request whose prompt and "
           "max_tokens exceed it is not sent and counts as wrong (context_overflow)", None,
           values.positive_int("--context-length"), "N"),
    Option("max_retries", "--max-retries", "retries per request on 429/5xx/connection errors", 5,
           values.non_negative_int("--max-retries"), "N"),
    Option("max_error_rate", "--max-error-rate", "gate: fail the run when more than this fraction of a benchmark's "
           "items errored (errors count as wrong answers either way)", 0.01, values.fraction("--max-error-rate"), "R"),
    # comparison with a baseline run (compare/): verdicts per benchmark, recipe `benchmarks.<name>.gate` as policy
    Option("baseline", "--baseline", "compare with this earlier run's results directory, or a NeMo Evaluator 0.3 run "
           "directory or eval-*.json bundle (paired by sample id and repeat): GO / NO-GO / INCONCLUSIVE per "
           "benchmark", None, values.text, "DIR"),
    Option("max_drop", "--max-drop", f"largest drop of a metric accepted as no regression, a fraction (default "
           f"{DEFAULT_MAX_DROP:g}: one point)", DEFAULT_MAX_DROP, values.policy("--max-drop", max_drop_value), "D"),
    Option("inconclusive", "--inconclusive", "an INCONCLUSIVE comparison or threshold: exit status 6 (status), "
           "or pass (0), or fail (1)", "status", values.policy("--inconclusive", inconclusive_mode), "MODE"),
    Option("correction", "--correction", "the comparison across the critical benchmarks: holm (a NO-GO must hold "
           "after Holm's family-wise correction) or none (each at 95 % alone)", "holm",
           values.policy("--correction", correction_method), "METHOD"),
    # --until-decided (session/until_decided.py, compare/sequential.py): extra repeats of undecided benchmarks
    Option("until_decided", "--until-decided", "with --baseline: run extra repeats of every sample of a benchmark "
           "whose comparison is INCONCLUSIVE, until a group-sequential test (alpha spending) decides GO or NO-GO or "
           "the budget runs out", False, values.flag, is_flag=True),
    Option("max_extra_repeats", "--max-extra-repeats", "--until-decided: at most this many extra repeats of each "
           "sample (the looks of the sequential test: the run and one after each extra repeat)", 4,
           values.positive_int("--max-extra-repeats"), "N"),
    Option("max_extra_time", "--max-extra-time", "--until-decided: start no further extra repeat after this many "
           "seconds of extra repeats (default: no limit)", None, values.positive_float("--max-extra-time"), "S"),
    Option("alpha_spending", "--alpha-spending", "--until-decided: how the sequential test spends its error over "
           "the looks: pocock (evenly; the run alone decides clear cases) or obrien-fleming (little early: more "
           "extra repeats, more power at the last look)", "pocock",
           values.choice("--alpha-spending", SPENDING), "pocock|obrien-fleming"),
    Option("show_flips", "--show-flips", "list the ids of samples that flipped against the baseline", False,
           values.flag, is_flag=True),
    Option("gate_on", "--gate-on", "thresholds hold on the point estimate (point) or on the 95 percent CI (ci: pass when "
           "the CI clears the value, fail when it misses it, INCONCLUSIVE in between)", "point",
           values.choice("--gate-on", GATE_ON), "point|ci"),
    # one run split across cluster jobs (shard/): each job runs its part, `python -m pytest_nemoeval merge` joins them
    Option("shard", "--shard", "run part K of N of the selected items (1 <= K <= N), balanced by expected cost; "
           "`slurm`: this job array task's part (SLURM_ARRAY_TASK_ID of SLURM_ARRAY_TASK_COUNT); merge the N "
           "results directories with `python -m pytest_nemoeval merge`", None, shard_value, "K/N"),
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
    Option("container_workers", "--container-workers", "container trials (Terminal-Bench, SWE-bench) running at once "
           "(default: one per core, at most one per 4 GiB of memory)", None,
           values.positive_int("--container-workers"), "N"),
    # the judge of suites graded by a model (recipe section `judge:`)
    Option("judge.endpoint", "--judge-endpoint", "OpenAI-compatible base URL of the judge model; `embedded`: the "
           "embedded model (default without --endpoint/--deploy, else " + OPENAI_URL + ")", None, values.text, "URL"),
    Option("judge.model", "--judge-model", "judge model of every judged suite (default: each suite's published "
           "judge, e.g. gpt-4o for HLE, gpt-4.1 for Arena-Hard v2)", None, values.text, "NAME"),
    Option("judge.api_key_env", "--judge-api-key-env", "environment variable holding the judge's API key",
           "JUDGE_API_KEY", values.text, "VAR"),
    Option("judge.parallelism", "--judge-parallelism", "judge requests in flight at most", 16,
           values.positive_int("--judge-parallelism"), "N"),
    # CritPt's grading API (Artificial Analysis; recipe section `critpt:`), also `python -m pytest_nemoeval grade`
    Option("critpt.api_key_env", "--critpt-api-key-env", "environment variable holding the Artificial Analysis API "
           "key that grades CritPt (unset: CritPt is generated, stored and reported unscored)",
           "ARTIFICIAL_ANALYSIS_API_KEY", values.text, "VAR"),
    Option("critpt.api_url", "--critpt-api-url", "the CritPt grading API", CRITPT_API_URL, values.text, "URL"),
    # the simulated user of agentic suites (tau2-bench; recipe section `user:`): a lane of its own
    Option("user.endpoint", "--user-endpoint", "OpenAI-compatible base URL of the user simulator model (default: "
           "the model under test's endpoint)", None, values.text, "URL"),
    Option("user.model", "--user-model", "user simulator model (default: the model under test with the default "
           "endpoint, else the first model --user-endpoint serves)", None, values.text, "NAME"),
    Option("user.api_key_env", "--user-api-key-env", "environment variable holding the user simulator's API key "
           "(default: --api-key-env with the default endpoint, else USER_API_KEY)", None, values.text, "VAR"),
    Option("user.parallelism", "--user-parallelism", "user simulator requests in flight at most (default: "
           "--parallelism)", None, values.positive_int("--user-parallelism"), "N"),
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
RECIPE_KEYS = {key for key in OPTION_BY_KEY if "." not in key} - {"results_dir"} | {"generation", "benchmarks",
                                                                                   "aggregates"} | set(SECTIONS)
AGGREGATE_KEYS = {"of", "metric", "thresholds"}  # aggregates.<name> (aggregates.py)
BENCHMARK_KEYS = {"repeats", "generation", "thresholds", "limit_samples", "data", "gate", "judge_model"}
GENERATION_KEYS = {"max_new_tokens", "temperature", "top_p", "top_k", "seed", "stop", "system_prompt", "extra_body",
                   "max_length", "pin_slots",  # log-likelihood items (suite.LOCAL_SETTINGS)
                   "max_tool_calls"}  # tool suites (suite.LOCAL_SETTINGS)


def ini_name(option: Option) -> str:
    return "nemoeval_" + option.key.replace(".", "_")


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("nemoeval", "LLM benchmarks (pytest-nemoeval)")
    for option in OPTIONS:
        ini = ini_name(option)
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
                    metavar="BENCH.METRIC>=VALUE", help="score gate, also <=; BENCH may be a recipe aggregate; "
                    "repeatable")


