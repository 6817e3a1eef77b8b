"""SciCode: step-by-step generation through the driver, step tests in the sandbox against test_data.h5 targets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.sparse

from helpers import ROOT, results, samples
from pytest_nemoeval.errors import GenerationError
from pytest_nemoeval.tasks import scicode
from pytest_nemoeval.metrics import SampleOutcome

# step 2 of each problem: what the model answers, and what the tests must make of it
SCENARIOS = {
    "1": ("```python\ndef f1_b(x):\n    return f1_a(x) + 1\n```", "ok"),
    "2": ("```python\ndef f2_b(x):\n    return f2_a(x) + 2\n```", "error"),  # wrong answer
    "3": ("```python\ndef f3_b(x):\n    return 1 / 0\n```", "error"),  # runtime error
    "4": ("```python\ndef f4_b(x):\n    while True:\n        pass\n```", "timeout"),
    "5": ("```python\ndef f5_b(x)\n    return f5_a(x) + 1\n```", "error"),  # syntax error
    "6": ("I would add one to the result of the first step.", "error"),  # no code block
}


def step(number: str, name: str, tests: list[str], body: str) -> dict:
    return {"step_number": number, "step_description_prompt": f"Write {name}.", "step_background": f"Background of {name}.",
            "ground_truth_code": body, "function_header": f"def {name}(x):\n    '''{name}'''", "test_cases": tests,
            "return_line": "    return y"}


def problem(pid: str) -> dict:
    a, b = f"f{pid}_a", f"f{pid}_b"
    return {"problem_name": f"problem_{pid}", "problem_id": pid, "problem_description_main": "Double, then add one.",
            "problem_background_main": "", "problem_io": "", "required_dependencies": "import numpy as np",
            "sub_steps": [
                step(f"{pid}.1", a, [f"assert np.allclose({a}(3.0), target)",
                                     f"assert np.allclose({a}(np.array([1.0, 2.0])), target)"], "return 2 * x"),
                step(f"{pid}.2", b, [f"from scicode.compare.cmp import cmp_tuple_or_list\n"
                                     f"assert cmp_tuple_or_list(({b}(3.0), np.ones(2)), target)"], "return 2 * x + 1")],
            "general_solution": "", "general_tests": []}


def write_targets(path, problems: list[dict]) -> None:
    """test_data.h5 in the official layout: <step>/test<n>/var<i>, one dataset per returned value."""
    with h5py.File(path, "w") as handle:
        for row in problems:
            pid = row["problem_id"]
            handle.create_dataset(f"{pid}.1/test1/var1", data=6.0)
            handle.create_dataset(f"{pid}.1/test2/var1", data=np.array([2.0, 4.0]))
            handle.create_dataset(f"{pid}.2/test1/var1", data=7.0)
            handle.create_dataset(f"{pid}.2/test1/var2", data=np.ones(2))


@pytest.fixture
def scicode_project(pytester: pytest.Pytester) -> pytest.Pytester:
    (pytester.path / "suites").mkdir()
    source = (ROOT / "suites" / "test_scicode.py").read_text()
    assert '"wall_seconds": 30.0' in source
    (pytester.path / "suites" / "test_scicode.py").write_text(source.replace('"wall_seconds": 30.0', '"wall_seconds": 3.0'))
    rows = [problem(pid) for pid in SCENARIOS]
    prefilled = problem("62")  # its first step's code comes with the benchmark: neither generated nor scored
    rows.append(prefilled)
    (pytester.path / "data").mkdir()
    (pytester.path / "data" / "scicode.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    write_targets(pytester.path / "data" / "test_data.h5", rows)
    rules = [[f"def f{pid}_b(x)", answer] for pid, (answer, _) in SCENARIOS.items()]
    rules += [["def f62_b(x)", "```python\ndef f62_b(x):\n    return 2 * x + 1\n```"]]
    rules += [[f"def f{pid}_a(x)", f"```python\nimport numpy as np\ndef f{pid}_a(x):\n    return 2 * x\n```"]
              for pid in SCENARIOS]
    (pytester.path / "answers.json").write_text(json.dumps(rules))
    return pytester


def test_steps_are_generated_in_order_and_scored_against_the_targets(scicode_project, mock_server):
    server = mock_server("--answers", str(scicode_project.path / "answers.json"), "--answer", "no rule matched")
    result = scicode_project.runpytest_subprocess("suites/", "--endpoint", server.url, "--data-dir", "data",
                                                  "--repeats", "1", "--sandbox-workers", "2")
    result.stdout.fnmatch_lines(["*2 correct, 5 incorrect*"])
    assert server.chat_requests() == 13  # 6 problems x 2 steps + the one generated step of problem 62
    rows = {row["sample_id"]: row for row in samples(scicode_project, "scicode")}
    for pid, (_, status) in SCENARIOS.items():
        first, second = rows[pid]["steps"]
        assert (first["status"], second["status"]) == ("ok", status), (pid, rows[pid]["steps"])
    assert "AssertionError" in rows["2"]["steps"][1]["error"]
    assert "ZeroDivisionError" in rows["3"]["steps"][1]["error"]
    assert "SyntaxError" in rows["5"]["steps"][1]["error"]
    assert rows["6"]["steps"][1]["code_block"] is False
    assert [step["step"] for step in rows["62"]["steps"]] == ["62.2"]
    entry = results(scicode_project)["benchmarks"]["scicode"]
    assert entry["primary_metric"] == "subtask"
    assert entry["metrics"]["subtask"]["value"] == pytest.approx(8 / 13)
    assert entry["metrics"]["problem"]["value"] == pytest.approx(2 / 7)


def test_a_prompt_beyond_the_context_fails_the_rest_of_its_problem_not_the_run(scicode_project, mock_server):
    rows = (scicode_project.path / "data" / "scicode.jsonl").read_text().splitlines()
    (scicode_project.path / "data" / "scicode.jsonl").write_text(rows[0] + "\n")
    server = mock_server("--answers", str(scicode_project.path / "answers.json"), "--fault", "context:1")
    result = scicode_project.runpytest_subprocess("suites/", "--endpoint", server.url, "--data-dir", "data",
                                                  "--repeats", "1")
    result.stdout.fnmatch_lines(["*1 incorrect*"])
    assert server.chat_requests() == 1  # the second step is not asked for
    (row,) = samples(scicode_project, "scicode")
    assert [step["status"] for step in row["steps"]] == ["out of context", "out of context"]
    assert "maximum context length" in row["steps"][0]["error"]
    assert results(scicode_project)["benchmarks"]["scicode"]["metrics"]["subtask"]["value"] == 0.0


def test_without_h5py_the_run_stops_naming_the_extra(scicode_project, mock_server, monkeypatch):
    rows = (scicode_project.path / "data" / "scicode.jsonl").read_text().splitlines()
    (scicode_project.path / "data" / "scicode.jsonl").write_text(rows[0] + "\n")
    (scicode_project.path / "blocked").mkdir()  # the engine process starts with h5py blocked
    (scicode_project.path / "blocked" / "sitecustomize.py").write_text("import sys\nsys.modules['h5py'] = None\n")
    monkeypatch.setenv("PYTHONPATH", f"{scicode_project.path / 'blocked'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    server = mock_server("--answers", str(scicode_project.path / "answers.json"))
    result = scicode_project.runpytest_subprocess("suites/", "--endpoint", server.url, "--data-dir", "data",
                                                  "--repeats", "1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: scicode needs the package h5py: pip install 'pytest-nemoeval[[]scicode]'"])
    assert server.chat_requests() == 0
    assert not (scicode_project.path / "results" / "results.json").exists()


@pytest.mark.parametrize("data_dir, message", [
    (None, "ERROR: scicode: needs --data-dir DIR holding test_data.h5, the numeric targets of SciCode's tests*"),
    ("data", "ERROR: scicode: --data-dir data has no test_data.h5: put there the numeric targets*gdown*"),
])
def test_without_the_test_data_the_run_stops_with_one_line(scicode_project, mock_server, data_dir, message):
    (scicode_project.path / "data" / "test_data.h5").unlink()
    server = mock_server()
    result = scicode_project.runpytest_subprocess("suites/", "--endpoint", server.url,
                                                  *(["--data-dir", data_dir] if data_dir else []))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert len([line for line in result.stderr.lines if line.startswith("ERROR")]) == 1
    assert server.chat_requests() == 0
    assert not (scicode_project.path / "results" / "results.json").exists()


def test_code_extraction_follows_the_reference():
    assert scicode.extract_code("a\n```python\nimport numpy as np\nx = 1\n```\n```python\ny = 2\n```") == ("\nx = 1\n", True)
    assert scicode.extract_code("```\nfrom math import pi\nz = pi\n```") == ("\nz = pi\n", True)
    assert scicode.extract_code("just words") == ("just words", False)


def test_step_prompt_carries_earlier_code_and_backgrounds():
    row = problem("7")
    text = scicode.step_prompt(row, 1, ["def f7_a(x):\n    return 2 * x"])
    earlier, _, rest = text.partition("NEXT STEP - PROBLEM DESCRIPTION AND FUNCTION HEADER:")
    assert "Write f7_a.\nBackground of f7_a.\n\ndef f7_a(x):\n    return 2 * x" in earlier
    assert "Write f7_b.\nBackground of f7_b.\n\ndef f7_b(x):\n    '''f7_b'''\n\n    return y" in rest
    assert "------" not in text  # the separator only goes between earlier steps
    prefilled = problem("62")  # its step 62.1 comes with the benchmark: the first request is for 62.2
    assert scicode.first_prompt(prefilled) == scicode.step_prompt(prefilled, 1, [scicode.PREFILLED["62", 0]])
    assert scicode.solution(row, ["A", "B"], "C") == "import numpy as np\nA\nB\n\nC"
    assert scicode.solution(row, [], "C") == "import numpy as np\n\nC"


def test_harness_reads_every_target_shape_of_the_official_layout(tmp_path):
    path = tmp_path / "test_data.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("9.1/test1/var1", data=np.arange(3.0))
        handle.create_dataset("9.1/test2/var1", data=b"text")
        handle.create_dataset("9.1/test3/var1", data=1.5)
        handle.create_dataset("9.1/test3/var2", data=2)
        for name, value in (("list/var1", 1.0), ("list/var2", 2.0)):
            handle.create_dataset(f"9.1/test4/var1/{name}", data=value)
        sparse = handle.create_group("9.1/test5/var1/sparse_matrix")
        matrix = scipy.sparse.csr_matrix(np.eye(2))
        for name, value in (("data", matrix.data), ("shape", matrix.shape), ("indices", matrix.indices),
                            ("indptr", matrix.indptr)):
            sparse.create_dataset(name, data=value)
        handle.create_dataset("9.1/test6/var1/0.5", data=3.0)
        handle.create_dataset("9.1/test6/var1/name", data=b"x")
    namespace: dict = {"H5PY_FILE": str(path)}
    exec(scicode.HARNESS.read_text(), namespace)
    targets = namespace["process_hdf5_to_tuple"]("9.1", 6)
    assert np.array_equal(targets[0], np.arange(3.0)) and targets[1] == "text" and targets[2] == (1.5, 2)
    assert targets[3] == [1.0, 2.0]
    assert np.array_equal(targets[4].toarray(), np.eye(2))
    assert targets[5] == {0.5: 3.0, "name": "x"}
    assert namespace["cmp_tuple_or_list"]((1.5, 2.0), targets[2])
    assert not namespace["are_dicts_close"]({0.5: 3.1, "name": "x"}, targets[5])
    with pytest.raises(FileNotFoundError, match="9.1/test7"):
        namespace["process_hdf5_to_tuple"]("9.1", 7)


def test_names_removed_since_the_reference_scipy_and_numpy_still_run(tmp_path):
    h5py.File(tmp_path / "test_data.h5", "w").close()
    program = scicode.step_program("from scipy.integrate import simps\nimport numpy as np\n"
                                   "def f(x):\n    return simps(np.ones(3), np.arange(3.0)) + np.float_(x)",
                                   {"step_number": "1.1", "test_cases": []}, tmp_path / "test_data.h5")
    assert "scipy.integrate" in program
    run = subprocess.run([sys.executable, "-c", program + "print(f(1))"], capture_output=True, text=True, timeout=120)
    assert run.stdout.strip() == "3.0", run.stderr
    plain = scicode.step_program("def f(x):\n    return x", {"step_number": "1.1", "test_cases": []}, Path("x.h5"))
    assert "scipy.integrate" not in plain  # slow to import: only for programs that use the removed names


def test_subtask_metric_is_passed_steps_over_all_steps_and_problem_needs_every_step():
    outcomes = [SampleOutcome(0, [False, True], [None, None], [{"passed": 1, "steps": 3}, {"passed": 3, "steps": 3}]),
                SampleOutcome(1, [False, False], [None, None], [{"passed": 0, "steps": 1}, {"passed": 0, "steps": 1}])]
    metrics = scicode.metrics(outcomes, 2)
    assert metrics["subtask"]["value"] == pytest.approx(4 / 8)
    assert metrics["problem"]["value"] == pytest.approx(0.25)
    assert metrics["subtask"]["stderr"] > 0


def test_an_errored_item_passed_none_of_its_steps_and_they_stay_in_the_denominator():
    assert scicode.failed_inputs({"problem_id": "62", "sub_steps": [{}, {}, {}]}) == {"passed": 0, "steps": 2}
    outcomes = [  # step 62.1 is prefilled: not the model's
        # repeat 1 errored: its 3 steps known from the row
        SampleOutcome(0, [False, False], [None, None], [{"passed": 1, "steps": 3}, {"passed": 0, "steps": 3}],
                      errors=[None, "HTTP 500"]),
        # repeat 0 errored without inputs: its 2 steps known from repeat 1
        SampleOutcome(1, [False, True], [None, None], [None, {"passed": 2, "steps": 2}], errors=["HTTP 500", None]),
        # both errored, steps unknown: a failed problem only
        SampleOutcome(2, [False, False], [None, None], errors=["HTTP 500", "HTTP 500"]),
    ]
    metrics = scicode.metrics(outcomes, 2)
    assert metrics["subtask"]["value"] == pytest.approx((1 + 0 + 0 + 2) / (3 + 3 + 2 + 2))
    assert metrics["problem"]["value"] == pytest.approx((0 + 0.5 + 0) / 3)
    assert (metrics["subtask"]["samples"], metrics["problem"]["samples"]) == (2, 3)


def test_the_suite_counts_the_steps_of_an_errored_problem_from_its_row():
    from pytest_nemoeval.suite import load_suite_module

    suite = load_suite_module(str(ROOT / "suites" / "test_scicode.py")).suite
    assert suite.failed_inputs(problem("1")) == {"passed": 0, "steps": len(problem("1")["sub_steps"])}


@pytest.mark.timeout(600)
def test_embedded_model_runs_the_steps_end_to_end(scicode_project):
    row = problem("1")
    row["sub_steps"] = row["sub_steps"][:1]  # one request: the CPU model is slow, the mock tests cover the steps
    (scicode_project.path / "data" / "scicode.jsonl").write_text(json.dumps(row) + "\n")
    result = scicode_project.runpytest_subprocess("suites/", "--data-dir", "data", "--repeats", "1",
                                                  "--set", "generation.max_new_tokens=8")
    result.stdout.fnmatch_lines(["*1 *correct*"])
    (row,) = samples(scicode_project, "scicode")
    assert [step["step"] for step in row["steps"]] == ["1.1"]
    assert all(step["status"] in {"ok", "error", "timeout", "killed"} for step in row["steps"])
    assert results(scicode_project)["benchmarks"]["scicode"]["errors"] == 0


@pytest.mark.parametrize("message", [
    "Error code: 400 - This model's maximum context length is 131072 tokens",  # vLLM
    "HTTP 400: the request exceeds the available context size, try increasing it",  # llama.cpp's server
])
def test_servers_context_errors_are_recognised(message):
    assert scicode.context_exceeded(GenerationError(message))
    assert not scicode.context_exceeded(GenerationError("HTTP 500: internal error"))
