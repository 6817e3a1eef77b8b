"""SWE-bench Multilingual: 300 GitHub issues in 9 languages (C, C++, Go, Java, JavaScript, TypeScript, PHP, Ruby,
Rust); the OpenHands agent edits the repository in the task's container, the task's tests decide.

Harness: Harbor (`harbor://swebench_multilingual@1.0`, NeMo Evaluator 0.3's playbook swebench_multilingual.yaml):
agent openhands-sdk 1.17.0 with at most 200 iterations, 7200 s per trial for the agent (run_timeout).
Metric: pass@1, the resolved rate.
"""

from pytest_nemoeval.tasks import harbor
from pytest_nemoeval.tasks.harbor.datasets import HarborDataset

PUBLISHED = {"agent": "openhands-sdk", "agent_kwargs": {"max_iterations": 200, "version": "1.17.0"},
             "agent_in_container": True,
             "agent_timeout_sec": 7200.0}


async def trial(sample, chat):
    return await harbor.run_trial(sample, chat, PUBLISHED)


suite = harbor.container_suite("swebench_multilingual", HarborDataset("swebench_multilingual@1.0"), PUBLISHED, trial)


def test_swebench_multilingual(sample, response, verdict):
    harbor.score(sample, response, verdict)
