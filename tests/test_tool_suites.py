"""The _tools variants end to end: scripted tool conversations on the mock server with hand-computed scores,
the sandbox's guarantees through both tool paths (a plain suite's loop, a driver's loop), the embedded model."""

from __future__ import annotations

import json
import shutil
import uuid

import pytest

from helpers import ROOT, copy_suites, results, samples
from pytest_nemoeval import sandbox

NAME = "stateful_python_code_exec"
JUDGE_YES = "extracted_final_answer: 25\nReasoning: the same number\nJudgement: yes\nConfidence: 80"  # judge/hle
OFFICIAL_YES = '{"extracted_final_answer": "25", "reasoning": "the same number", "correct": "yes", "confidence": 80}'
isolated = pytest.mark.skipif(not sandbox.isolation()[0], reason=f"no user namespaces here: {sandbox.isolation()[1]}")


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    copy_suites(pytester, "aime25", "aime25_tools", "gpqa", "gpqa_tools", "hmmt_feb25", "hmmt_feb25_tools", "hle",
                "hle_tools")
    shutil.copytree(ROOT / "examples" / "data", pytester.path / "data")
    monkeypatch.setenv("JUDGE_API_KEY", "judge-secret-456")
    return pytester


def call(code: str) -> list[str]:
    return [NAME, json.dumps({"code": code})]


def script(pytester: pytest.Pytester, *steps: dict) -> str:
    path = pytester.path / f"steps-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(steps))
    return str(path)


def run(pytester: pytest.Pytester, server, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("suites/", "--endpoint", server.url, "--data-dir", "data", "--repeats", "1",
                                         *args)


def outcomes(result: pytest.RunResult) -> dict[str, int]:
    return {key: value for key, value in result.parseoutcomes().items() if key in ("correct", "incorrect", "failed")}


def metrics(pytester: pytest.Pytester, name: str) -> dict[str, float]:
    return {key: value["value"] for key, value in results(pytester)["benchmarks"][name]["metrics"].items()}


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["n0", "n2"])
def test_aime25_tools_runs_code_in_one_session_and_records_every_call(project, mock_server, xdist):
    # the second cell uses the first's x: 16 + 54 = 70, the answer of the first of the answers 70, 16, 117
    steps = script(project, {"calls": [call("x = 2 ** 4\nx")]},
                   {"calls": [call("print(x + 54)")], "content": "So {tool}. "},
                   {"content": "The answer is \\boxed{{tool}}", "reasoning": "checked"})
    server = mock_server("--tool-steps", steps)
    result = run(project, server, "-k", "aime25_tools", *xdist)
    assert outcomes(result) == {"correct": 1, "incorrect": 2}
    assert metrics(project, "aime25_tools")["pass@1"] == pytest.approx(1 / 3, abs=1e-6)
    assert server.chat_requests() == 9  # three replies per item, no aime25 item selected
    row = next(row for row in samples(project, "aime25_tools") if row["correct"])
    assert (row["response"], row["reasoning"]) == ("So 16. The answer is \\boxed{70}", "checked")
    calls = row["tool_use"]["calls"]
    assert [(c["name"], c["code"], c["output"], c["status"]) for c in calls] == [
        (NAME, "x = 2 ** 4\nx", "16", "completed"), (NAME, "print(x + 54)", "70", "completed")]
    assert all(c["wall_seconds"] > 0 and c["arguments"] == json.dumps({"code": c["code"]}) for c in calls)
    assert row["tool_use"]["stopped"] == "answer"


def test_the_call_budget_ends_the_conversation_with_what_was_said(project, mock_server):
    steps = script(project, {"calls": [call("x = 16")], "content": "Let me compute. "},
                   {"calls": [call("print(x + 54)")]}, {"content": "\\boxed{70}"})
    server = mock_server("--tool-steps", steps)
    run(project, server, "-k", "aime25_tools", "--set", "generation.max_tool_calls=1")
    assert metrics(project, "aime25_tools")["no_answer"] == 1.0 and metrics(project, "aime25_tools")["pass@1"] == 0
    assert server.chat_requests() == 6  # the second reply's call is over the budget: never run, no third request
    for row in samples(project, "aime25_tools"):
        assert row["response"] == "Let me compute."
        assert row["tool_use"]["stopped"] == "budget" and len(row["tool_use"]["calls"]) == 1


def test_a_tool_call_the_server_cannot_parse_ends_the_conversation_as_a_wrong_answer(project, mock_server):
    # llama.cpp answers HTTP 500 when the model's tool call is not JSON (vLLM returns the text): the model's
    # failure, so the item is wrong with no answer, not an error, and nothing is retried
    steps = script(project, {"content": "The answer is \\boxed{70}"})
    server = mock_server("--tool-steps", steps, "--fault", "toolparse:1")
    result = run(project, server, "-k", "aime25_tools", "--limit-samples", "1")
    assert outcomes(result) == {"incorrect": 1}, result.stdout.str()[-2000:]
    (row,) = samples(project, "aime25_tools")
    assert row["verdict"] == "incorrect" and row.get("error") is None
    assert row["finish_reason"] == "malformed_tool_call"
    assert server.chat_requests() == 1


def test_gpqa_tools_errors_long_output_and_bad_arguments_go_back_to_the_model(project, mock_server):
    # the letters of the four rows are C, A, B, D: "B" is right once
    steps = script(project, {"calls": [call("print('x' * 1200)")]}, {"calls": [call("1 / 0")]},
                   {"calls": [[NAME, "print(1)"], [NAME, json.dumps({"cmd": "ls"})]]},
                   {"content": "The tool said {tool}\nAnswer: B"})
    server = mock_server("--tool-steps", steps)
    result = run(project, server, "-k", "gpqa_tools")
    assert outcomes(result) == {"correct": 1, "incorrect": 3}
    assert metrics(project, "gpqa_tools")["pass@1"] == 0.25
    row = samples(project, "gpqa_tools")[0]
    assert [(c["output"], c["status"]) for c in row["tool_use"]["calls"]] == [
        ("x" * 1000 + "<output cut>", "completed"),
        ("Traceback (most recent call last):\n    1 / 0\nZeroDivisionError: division by zero", "error"),
        ('{"error": "Tool argument parsing failed."}', "failed"), ('{"error": "Tool execution failed."}', "failed")]
    assert row["response"] == 'The tool said {"error": "Tool execution failed."}\nAnswer: B'  # the model read it


def test_hmmt_feb25_tools_answers_from_the_tool(project, mock_server):
    # \frac{1}{2} equals "\frac{1}{2}" and "0.5", not 103 nor \frac{\sqrt{2}}{2}: 2 of 4
    steps = script(project, {"calls": [call("print('\\\\frac{1}{2}')")]}, {"content": "Thus $p = \\boxed{{tool}}$."})
    server = mock_server("--tool-steps", steps)
    result = run(project, server, "-k", "hmmt_feb25_tools")
    assert outcomes(result) == {"correct": 2, "incorrect": 2}
    assert metrics(project, "hmmt_feb25_tools")["accuracy"] == 0.5


def test_a_tool_timeout_is_told_to_the_model_and_the_item_goes_on(project, mock_server):
    steps = script(project, {"calls": [call("import time\ntime.sleep(60)")]}, {"content": "\\boxed{70}"})
    server = mock_server("--tool-steps", steps)
    run(project, server, "-k", "aime25_tools", "--limit-samples", "1")
    row = samples(project, "aime25_tools")[0]
    (timed_out,) = row["tool_use"]["calls"]
    assert (timed_out["output"], timed_out["status"]) == (
        "Traceback (most recent call last):\n    time.sleep(60)\nKeyboardInterrupt", "timeout")
    assert 10 <= timed_out["wall_seconds"] < 20 and row["correct"] is True  # the reference's 10 s per call


def test_hle_tools_driver_runs_the_loop_then_the_judge(project, mock_server):
    # 3 of the 4 rows are text-only; each conversation: one call, then the answer the judge says yes to
    steps = script(project, {"calls": [call("import math\nmath.factorial(100) % 10 ** 24 == 0")]},
                   {"content": "Explanation: {tool}\nAnswer: 25\nConfidence: 80%"})
    model, judge = mock_server("--tool-steps", steps), mock_server("--answer", JUDGE_YES)
    result = run(project, model, "-k", "hle_tools", "--judge-endpoint", judge.url, "--judge-model", "mock-model")
    assert outcomes(result) == {"correct": 3}
    assert (model.chat_requests(), judge.chat_requests()) == (6, 3)
    assert metrics(project, "hle_tools")["accuracy"] == 1.0
    assert metrics(project, "hle_tools")["calibration_error"] == pytest.approx(0.2)
    row = samples(project, "hle_tools")[0]
    assert row["judge"] == JUDGE_YES and row["tool_use"]["calls"][0]["output"] == "True"
    # the variant's own data options choose its judge: the official one reads a structured verdict
    official = mock_server("--answer", OFFICIAL_YES)
    run(project, model, "-k", "hle_tools", "--judge-endpoint", official.url, "--judge-model", "mock-model",
        "--set", "benchmarks.hle_tools.data.judge=official")
    assert metrics(project, "hle_tools")["accuracy"] == 1.0 and official.chat_requests() == 3
    assert model.chat_requests() == 6  # the model's replies came from the cache


def test_k_selects_only_the_variant(project, mock_server):
    result = project.runpytest_subprocess("suites/", "--endpoint", mock_server().url, "--data-dir", "data",
                                          "--collect-only", "-q", "-k", "aime25_tools")
    ids = [line for line in result.stdout.lines if "::" in line]
    assert len(ids) == 3 * 64
    assert all(line.startswith("suites/test_aime25_tools.py::test_aime25_tools[") for line in ids)


ESCAPE = """
import os, socket, subprocess, sys
found = [key for key, value in os.environ.items() if 'secret' in value]
try:
    socket.create_connection(('127.0.0.1', {port}), timeout=2)
    net = 'connected'
except OSError:
    net = 'refused'
try:
    open({target!r}, 'w').write('pwned')
    wrote = 'wrote'
except OSError:
    wrote = 'refused'
subprocess.Popen([sys.executable, '-c', 'import time  # {token}\\ntime.sleep(60)'], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(found, net, wrote)
"""


@isolated
@pytest.mark.parametrize("suite", ["aime25_tools", "hle_tools"], ids=["plain", "driver"])
def test_tool_code_reaches_no_network_key_file_and_leaves_no_process(project, mock_server, monkeypatch, suite):
    from test_sandbox import leftovers

    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-0123")
    token, target = uuid.uuid4().hex, project.path / "escaped.txt"
    judge = mock_server("--answer", JUDGE_YES)  # the code tries to reach it: a connection would find it listening
    steps = script(project, {"calls": [call(ESCAPE.format(port=judge.port, target=str(target), token=token))]},
                   {"content": "Answer: 25 \\boxed{70}"})
    model = mock_server("--tool-steps", steps)
    run(project, model, "-k", suite, "--limit-samples", "1", "--judge-endpoint", judge.url,
        "--judge-model", "mock-model")
    (escape,) = samples(project, suite)[0]["tool_use"]["calls"]
    assert (escape["output"], escape["status"]) == ("[] refused refused", "completed")
    assert not target.exists() and leftovers(token) == []
    assert judge.chat_requests() == (1 if suite == "hle_tools" else 0)  # the judge's, never the tool's


def test_the_embedded_model_gets_the_tool_and_the_loop_ends(project):
    """llama.cpp's server receives `tools` (the embedded chat template shows them) and parses the tiny model's
    call; the loop runs it in the sandbox and asks again, and the model answers. The 135M model calls the tool
    greedily for this problem (in the dataset's schema), not for AIME's own problems."""
    row = {"problem": "Call stateful_python_code_exec to compute 2 + 2.", "answer": "4", "id": "0"}
    (project.path / "data" / "aime25.jsonl").write_text(json.dumps(row) + "\n")
    result = project.runpytest_subprocess(
        "suites/", "-k", "aime25_tools", "--data-dir", "data", "--repeats", "1",
        "--set", "generation.max_new_tokens=48", "--set", "generation.temperature=0")
    entry = results(project)["benchmarks"]["aime25_tools"]
    assert (entry["items"], entry["errors"]) == (1, 0), result.stdout.str()
    use = samples(project, "aime25_tools")[0]["tool_use"]
    assert use["calls"] and all(c["name"] == NAME and c["status"] == "completed" for c in use["calls"]), use
    assert use["stopped"] == "answer" and use["replies"] == len(use["calls"]) + 1
