"""LiveCodeBench v6 window: the problems of release v6 from contests of 2024-08-01 to 2025-05-31.

As the published Nemotron 3 Super evaluation runs it next to v5: NeMo Evaluator's `ns_livecodebench` with
`dataset_split: test_v6_2408_2505` (examples/nemotron/nemotron-3-super/local_nemotron-3-super-120b-a12b.yaml,
8 repeats; its v5 run is `ns_livecodebench_v5`, this plugin's `livecodebench`). NeMo Skills' split names a release
and a month range, both months included (dataset/livecodebench/prepare.py; test_v5_2407_2412 is the v5 suite's
2024-07-01..2024-12-31). Prompt, code extraction, tests and scoring are livecodebench's (test_livecodebench.py);
the window stays a recipe setting (`benchmarks.livecodebench_v6.data`).
"""

from pathlib import Path

from pytest_nemoeval.suite import load_suite_module

base = load_suite_module(str(Path(__file__).with_name("test_livecodebench.py")))

suite = base.suite.variant(name="livecodebench_v6",
                           data_options={"release": "v6", "start_date": "2024-08-01", "end_date": "2025-05-31"})


def test_livecodebench_v6(sample, response, verdict):
    base.test_livecodebench(sample, response, verdict)
