"""Terminal-Bench 2.0: 89 tasks in containers (compile code, configure servers, train models, ...), each solved by
the Terminus-2 agent in a tmux session, then checked by the task's own tests.

Harness: Harbor (`harbor://terminal-bench@2.0`, NeMo Evaluator 0.3's playbook terminal_bench_2.yaml): agent
terminus-2, 3600 s per trial for the agent (the playbook's `timeout`, which overrides the task's own), the task's
container resources (the playbook's ECS 4 vCPU / 8 GiB: recipe data.cpus / data.memory_mb). One item per (task,
repeat) is one Harbor trial (pytest_nemoeval/tasks/harbor); the model's requests go through the engine's proxy.
Metric: pass@1, the share of trials whose tests all passed (reward 1), by category.
"""

from pytest_nemoeval.tasks import harbor
from pytest_nemoeval.tasks.harbor.datasets import HarborDataset

PUBLISHED = {"agent": "terminus-2", "agent_timeout_sec": 3600.0}


async def trial(sample, chat):
    return await harbor.run_trial(sample, chat, PUBLISHED)


suite = harbor.container_suite("terminal_bench_2", HarborDataset("terminal-bench@2.0"), PUBLISHED, trial)


def test_terminal_bench_2(sample, response, verdict):
    harbor.score(sample, response, verdict)
