"""Cross-benchmark aggregates (recipe `aggregates:`): the mean and its standard error in results.json and the score
lines, thresholds on it as the exit status, an incomplete aggregate not gated, malformed entries one clear line."""

from __future__ import annotations

import math
from xml.etree import ElementTree

import pytest

from helpers import results

from pytest_nemoeval.aggregates import aggregate, thresholds
from pytest_nemoeval.config import validate_tree

VARIANT = '''
from pathlib import Path

from pytest_nemoeval.suite import load_suite_module

base = load_suite_module(str(Path(__file__).with_name("test_mmlu_pro.py")))
suite = base.suite.variant(name="mmlu_pro_b")


def test_mmlu_pro_b(sample, response, verdict):
    base.test_mmlu_pro(sample, response, verdict)
'''
# the mock answers B: 1 of the first 10 rows is B (0.1, stderr 0.1), 3 of the first 20 (0.15, stderr below)
A_VALUE, A_STDERR = 0.1, 0.1
B_VALUE, B_STDERR = 0.15, math.sqrt((3 * 0.85 ** 2 + 17 * 0.15 ** 2) / 19 / 20)
MEAN, STDERR = (A_VALUE + B_VALUE) / 2, math.sqrt(A_STDERR ** 2 + B_STDERR ** 2) / 2


@pytest.fixture
def two(bench: pytest.Pytester) -> pytest.Pytester:
    """mmlu_pro on 10 rows and a variant of it, mmlu_pro_b, on 20, averaged as `avg`."""
    (bench.path / "suites" / "test_mmlu_pro_b.py").write_text(VARIANT)
    (bench.path / "recipe.yaml").write_text(
        "benchmarks:\n  mmlu_pro: {limit_samples: 10}\n  mmlu_pro_b: {limit_samples: 20}\n"
        "aggregates:\n  avg: {of: [mmlu_pro, mmlu_pro_b], thresholds: ['accuracy>=0.1']}\n")
    return bench


def run(pytester: pytest.Pytester, mock, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data",
                                         "--recipe", "recipe.yaml", *args)


def test_the_aggregate_is_the_plain_mean_with_the_members_stderr_combined(two, mock_server):
    result = run(two, mock_server(), "--junitxml", "junit.xml")
    assert result.ret == 0, result.stdout.str()[-2000:]
    document = results(two)
    members = {name: document["benchmarks"][name]["metrics"]["accuracy"] for name in ("mmlu_pro", "mmlu_pro_b")}
    assert members["mmlu_pro"]["value"] == pytest.approx(A_VALUE)
    assert members["mmlu_pro_b"]["stderr"] == pytest.approx(B_STDERR, abs=1e-6)
    entry = document["aggregates"]["avg"]
    assert (entry["metric"], entry["complete"], entry["missing"]) == ("accuracy", True, {})
    assert entry["members"]["mmlu_pro_b"] == {"metric": "accuracy", "value": 0.15,
                                              "stderr": members["mmlu_pro_b"]["stderr"]}
    mean = entry["metrics"]["accuracy"]
    assert mean["value"] == pytest.approx(MEAN) and mean["stderr"] == pytest.approx(STDERR, abs=1e-6)
    assert mean["ci95"] == pytest.approx([0.0, MEAN + 1.959964 * STDERR], abs=1e-5)  # clipped to [0, 1]
    assert entry["thresholds"] == [{"metric": "accuracy", "op": ">=", "value": 0.1, "passed": True}]
    assert document["config"]["thresholds"] == ["avg.accuracy>=0.1"]
    result.stdout.fnmatch_lines([f"avg: accuracy 0.1250 (95% CI {mean['ci95'][0]:.4f}-{mean['ci95'][1]:.4f}, "
                                 f"stderr {STDERR:.4f})  mean of mmlu_pro, mmlu_pro_b  gate: passed"])
    suite = ElementTree.parse(two.path / "junit.xml").getroot().find("testsuite")
    properties = {prop.get("name"): prop.get("value") for prop in suite.find("properties")}
    assert properties["nemoeval.avg.complete"] == "true"
    assert float(properties["nemoeval.avg.accuracy"]) == pytest.approx(MEAN)
    assert float(properties["nemoeval.avg.accuracy.stderr"]) == pytest.approx(STDERR, abs=1e-5)


@pytest.mark.parametrize(("args", "status", "line"), [
    (["--threshold", "avg.accuracy>=0.5"], 1, "GATE FAILED: avg.accuracy = 0.1250 (95% CI [[]0.0*]), required >= 0.5"),
    (["--threshold", "avg.accuracy>=0.15", "--gate-on", "ci"], 6,
     "GATE INCONCLUSIVE: avg.accuracy = 0.1250 (95% CI *), required >= 0.15 by the whole CI: the CI straddles 0.15"),
], ids=["failed", "inconclusive"])
def test_a_threshold_on_an_aggregate_sets_the_exit_status_as_a_benchmarks(two, mock_server, args, status, line):
    result = run(two, mock_server(), "--set", "aggregates.avg.thresholds=[]", *args)  # the command line's alone
    assert result.ret == status, result.stdout.str()[-2000:]
    result.stdout.fnmatch_lines([line])
    document = results(two)
    assert document["gate"]["passed"] is (status != 1)
    checks = document["aggregates"]["avg"]["thresholds"]
    assert [check["passed"] for check in checks] == [False if status == 1 else None]


def test_an_aggregate_whose_members_did_not_all_run_is_incomplete_and_not_gated(two, mock_server):
    result = run(two, mock_server(), "-k", "not mmlu_pro_b", "--threshold", "avg.accuracy>=0.9")
    assert result.ret == 0, result.stdout.str()[-2000:]
    result.stdout.fnmatch_lines(["avg: incomplete, 1 of 2 members (missing mmlu_pro_b: not run): no mean  "
                                 "gate: not gated"])
    document = results(two)
    entry = document["aggregates"]["avg"]
    assert (entry["complete"], entry["metrics"], list(entry["members"])) == (False, {}, ["mmlu_pro"])
    assert all(check["passed"] is None and check["incomplete"] for check in entry["thresholds"])
    assert document["gate"] == {"passed": True, "failures": []}


@pytest.mark.parametrize(("recipe", "message"), [
    ("aggregates:\n  avg: {of: [mmlu_pro, mmlu_prox]}\n",
     "unknown benchmark 'mmlu_prox' in aggregates.avg.of (known: mmlu_pro, mmlu_pro_b)"),
    ("aggregates:\n  avg: {of: []}\n",
     "recipe recipe.yaml: 'aggregates.avg.of' must be a non-empty list of benchmark names, got []"),
    ("benchmarks:\n  mmlu_pro: {}\naggregates:\n  avg: {of: [mmlu_pro, mmlu_pro_b]}\n",
     "aggregates.avg.of names mmlu_pro_b, which the recipe's benchmarks leave out: add benchmarks.mmlu_pro_b to "
     "the recipe, or drop it from the aggregate"),
    ("aggregates:\n  mmlu_pro: {of: [mmlu_pro_b]}\n",
     "aggregate 'mmlu_pro' has the name of a benchmark: name the aggregate otherwise"),
], ids=["unknown-member", "empty", "member-left-out", "named-like-a-benchmark"])
def test_a_malformed_aggregate_is_one_clear_line(two, mock_server, recipe, message):
    (two.path / "recipe.yaml").write_text(recipe)
    mock = mock_server()
    result = run(two, mock)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.stderr.lines if line.startswith("ERROR:")] == [f"ERROR: {message}"]
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert not (two.path / "results" / "results.json").exists() and mock.chat_requests() == 0


@pytest.mark.parametrize(("section", "message"), [
    ([1], "'aggregates' must be a mapping of aggregate name to {of: [benchmarks], metric, thresholds}"),
    ({"avg": ["a", "b"]}, "'aggregates.avg' must be a mapping like {of: [bench_a, bench_b]}"),
    ({"avg": {"of": "a"}}, "'aggregates.avg.of' must be a non-empty list of benchmark names, got 'a'"),
    ({"avg": {"of": ["a", "a"]}}, "'aggregates.avg.of' names a benchmark twice: ['a', 'a']"),
    ({"avg": {"of": ["a"], "weights": [1]}}, "unknown key 'aggregates.avg.weights' (known: metric, of, thresholds)"),
    ({"avg": {"of": ["a"], "metric": 3}}, "'aggregates.avg.metric' must be a metric name like pass@1, got 3"),
    ({"avg": {"of": ["a"], "metric": "pass 1"}},
     "'aggregates.avg.metric' must be a metric name like pass@1, got 'pass 1'"),
    ({"avg": {"of": ["a"], "thresholds": ">=0.5"}}, "'aggregates.avg.thresholds' must be a list like ['pass@1>=0.6']"),
    ({"avg": {"of": ["a"], "metric": "pass^1", "thresholds": ["pass@1>=0.5"]}},
     "'aggregates.avg.thresholds' 'pass@1>=0.5' names the metric 'pass@1'; the aggregate's is 'pass^1'"),
    ({"avg": {"of": ["a"], "thresholds": ["pass@1>=50"]}}, "did you mean 0.5?"),
    ({"a b": {"of": ["a"]}}, "'aggregates.a b': an aggregate's name is letters, digits and _ only"),
])
def test_malformed_aggregate_entries_are_refused(section, message):
    with pytest.raises(pytest.UsageError) as refused:
        validate_tree({"aggregates": section}, "recipe r.yaml")
    assert message in str(refused.value)


def test_the_published_tau2_average_and_members_that_give_no_value():
    """Nemotron 3 Super's tau2-bench: airline 66.20, retail 62.80, telecom 64.91, average 64.64."""
    section = {"tau2_average": {"of": ["tau2_airline", "tau2_retail", "tau2_telecom"], "metric": "pass^1",
                                "thresholds": ["pass^1>=0.6264"]}}
    benchmarks = {name: {"primary_metric": "pass@1", "metrics": {"pass^1": {"value": value, "stderr": 0.01}}}
                  for name, value in [("tau2_airline", 0.6620), ("tau2_retail", 0.6280), ("tau2_telecom", 0.6491)]}
    entries, failures = aggregate(section, benchmarks, thresholds(section))
    assert round(entries["tau2_average"]["metrics"]["pass^1"]["value"], 4) == 0.6464 and not failures
    assert entries["tau2_average"]["metrics"]["pass^1"]["stderr"] == pytest.approx(math.sqrt(3) * 0.01 / 3, abs=1e-6)
    # unscored (graded later): incomplete, not gated; a member without the metric: the aggregate's mistake, failed
    benchmarks["tau2_retail"] = {**benchmarks["tau2_retail"], "unscored": "no key", "metrics": {}}
    entries, failures = aggregate(section, benchmarks, thresholds(section))
    assert entries["tau2_average"]["missing"] == {"tau2_retail": "unscored"} and not failures
    benchmarks["tau2_retail"] = {"primary_metric": "pass@1", "metrics": {"pass@1": {"value": 0.6}}}
    entries, failures = aggregate(section, benchmarks, thresholds(section))
    assert [failure.message for failure in failures] == [
        "tau2_average.pass^1>=0.6264: tau2_retail reports no metric 'pass^1'"]
    assert entries["tau2_average"]["thresholds"][0]["passed"] is False
    # none of the members ran (-k): no entry at all, as a benchmark none of whose items ran
    assert aggregate(section, {}, thresholds(section)) == ({}, [])


def test_grading_an_unscored_member_later_completes_and_gates_its_aggregate():
    """`python -m pytest_nemoeval grade` scores a run-graded member (CritPt without its key at run time)."""
    from pytest_nemoeval.aggregates import regrade

    config = {"aggregates": {"avg": {"of": ["a", "b"]}}, "thresholds": ["avg.accuracy>=0.5"], "gate_on": "point"}
    benchmarks = {"a": {"primary_metric": "accuracy", "metrics": {"accuracy": {"value": 0.4, "stderr": 0.03}}},
                  "b": {"primary_metric": "accuracy", "metrics": {}, "unscored": "no key"}}
    entries, _ = aggregate(config["aggregates"], benchmarks, [])
    document = {"config": config, "benchmarks": benchmarks, "aggregates": entries,
                "gate": {"passed": True, "failures": []}}
    assert regrade(document, ["a"]) == [] and document["aggregates"]["avg"]["complete"] is False
    del benchmarks["b"]["unscored"]
    benchmarks["b"]["metrics"] = {"accuracy": {"value": 0.5, "stderr": 0.04}}
    assert regrade(document, ["b"]) == ["avg.accuracy = 0.4500 (95% CI [0.4010, 0.4990]), required >= 0.5"]
    entry = document["aggregates"]["avg"]
    assert entry["complete"] and entry["metrics"]["accuracy"]["stderr"] == pytest.approx(0.025)
    assert entry["thresholds"] == [{"metric": "accuracy", "op": ">=", "value": 0.5, "passed": False}]
    assert document["gate"]["passed"] is False
