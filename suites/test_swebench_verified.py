"""SWE-bench Verified: 500 human-validated GitHub issues of Python projects; the OpenHands agent edits the
repository in the task's container, the task's tests decide whether the issue is resolved.

Harness: Harbor (`harbor://swebench-verified@1.0`, NeMo Evaluator 0.3's playbook swebench_verified.yaml): agent
openhands-sdk 1.17.0 with at most 200 iterations, 5400 s per trial for the agent (run_timeout). OpenHands runs
inside the container: the container reaches the engine's proxy through the host (docs/containers.md).
Metric: pass@1, the resolved rate.
"""

from pytest_nemoeval.tasks import harbor
from pytest_nemoeval.tasks.harbor.datasets import HarborDataset

PUBLISHED = {"agent": "openhands-sdk", "agent_kwargs": {"max_iterations": 200, "version": "1.17.0"},
             "agent_in_container": True,
             "agent_timeout_sec": 5400.0}


async def trial(sample, chat):
    return await harbor.run_trial(sample, chat, PUBLISHED)


suite = harbor.container_suite("swebench_verified", HarborDataset("swebench-verified@1.0"), PUBLISHED, trial)


def test_swebench_verified(sample, response, verdict):
    harbor.score(sample, response, verdict)
