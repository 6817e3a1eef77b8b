"""Suite drivers: multi-request items run by the engine (model and judge lanes), cached, bounded, failing loud."""

from __future__ import annotations

import json
import textwrap

import pytest

from helpers import results, samples

SUITE = '''
from pytest_nemoeval import HubDataset, Suite


async def converse(sample, chat):
    first = await chat(chat.messages)
    second = await chat(chat.messages + [{"role": "assistant", "content": first["content"]},
                                         {"role": "user", "content": "Are you sure?"}])
    if sample["question"] == "crash":
        return 1 / 0
    judged = await chat([{"role": "user", "content": "Grade: " + second["content"]}], lane="judge", temperature=0.0)
    return {"content": second["content"], "first": first["content"], "judge": judged["content"]}


suite = Suite(name="twostep", data=HubDataset("example/twostep"), prompt=lambda row: row["question"],
              required_fields=("question", "answer"), driver=converse, judge="gpt-4o")


def test_twostep(sample, response, verdict):
    verdict(response.text == sample["answer"], answer=response.text, expected=sample["answer"],
            judge=response.body["judge"], metric_inputs={"first": response.body["first"]})
'''

METRIC_HOOK = '''
def pytest_nemoeval_metrics(benchmark, outcomes, repeats):
    firsts = [inputs["first"] for outcome in outcomes for inputs in outcome.inputs if inputs]  # None: errored
    if not firsts:
        return {}
    return {"first_was_turn_1": {"value": sum(first == "turn 1" for first in firsts) / len(firsts)}}
'''


@pytest.fixture
def twostep(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "test_twostep.py").write_text(SUITE)
    (pytester.path / "conftest.py").write_text(METRIC_HOOK)
    (pytester.path / "data").mkdir()
    rows = [{"question": "q0", "answer": "turn 2"}, {"question": "q1", "answer": "turn 2"},
            {"question": "q2", "answer": "turn 1"}]
    (pytester.path / "data" / "twostep.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    monkeypatch.setenv("JUDGE_API_KEY", "judge-secret-123")
    return pytester


def run(pytester: pytest.Pytester, model, judge, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("suites/", "--endpoint", model.url, "--judge-endpoint", judge.url,
                                         "--judge-model", "mock-model", "--data-dir", "data", *args)


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["n0", "n2"])
def test_driver_requests_go_through_the_engine_and_its_result_is_the_response(twostep, mock_server, xdist):
    model, judge = mock_server("--answer", "turn {turn}"), mock_server("--answer", "graded by {model}")
    result = run(twostep, model, judge, *xdist)
    assert result.parseoutcomes() == {"correct": 2, "incorrect": 1}  # under -n 2 in either order
    # the three grading prompts are the same text: sent once, whether in flight at once or cached
    assert (model.chat_requests(), judge.chat_requests()) == (6, 1)
    metrics = results(twostep)["benchmarks"]["twostep"]["metrics"]
    assert metrics["accuracy"]["value"] == pytest.approx(2 / 3)
    assert metrics["first_was_turn_1"]["value"] == 1.0  # metric_inputs reach the metric hooks
    rows = sorted(samples(twostep, "twostep"), key=lambda row: row["sample_id"])
    assert [row["response"] for row in rows] == ["turn 2"] * 3
    assert [row["judge"] for row in rows] == ["graded by mock-model"] * 3

    rerun = run(twostep, model, judge, *xdist)  # every request of every turn comes from the cache
    assert rerun.parseoutcomes() == {"correct": 2, "incorrect": 1}
    assert (model.chat_requests(), judge.chat_requests()) == (6, 1)


def test_missing_judge_key_is_one_line_before_any_request(twostep, mock_server, monkeypatch):
    monkeypatch.delenv("JUDGE_API_KEY")
    model, judge = mock_server(), mock_server()
    result = run(twostep, model, judge)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: twostep is graded by a judge model and the environment variable "
                                 "JUDGE_API_KEY is not set*"])
    assert (model.chat_requests(), judge.chat_requests()) == (0, 0)
    assert not (twostep.path / "results" / "results.json").exists()


def test_unreachable_judge_is_one_line(twostep, mock_server):
    model = mock_server()
    result = twostep.runpytest_subprocess("suites/", "--endpoint", model.url, "--judge-endpoint",
                                          "http://127.0.0.1:9", "--data-dir", "data")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --judge-endpoint http://127.0.0.1:9 is not reachable*"])
    assert model.chat_requests() == 0


def test_judge_failure_is_an_error_never_incorrect(twostep, mock_server):
    model, judge = mock_server("--answer", "turn {turn}"), mock_server("--fault", "400:3")
    result = run(twostep, model, judge, "--no-cache")
    result.stdout.fnmatch_lines(["*HTTP 400 from */chat/completions: max_tokens is too large*"])
    result.stdout.fnmatch_lines(["*= 3 errors in *"])
    entry = results(twostep)["benchmarks"]["twostep"]
    assert (entry["errors"], entry["items"]) == (3, 3)
    assert "judge-secret-123" not in result.stdout.str() + result.stderr.str()


def test_a_crashing_driver_fails_its_item_with_one_line(twostep, mock_server):
    rows = [{"question": "crash", "answer": "x"}, {"question": "q1", "answer": "turn 2"}]
    (twostep.path / "data" / "twostep.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    model, judge = mock_server("--answer", "turn {turn}"), mock_server()
    result = run(twostep, model, judge, "--no-cache")
    result.stdout.fnmatch_lines(["*driver converse() failed: ZeroDivisionError: division by zero (test_twostep.py:*)*",
                                 "*1 error, 1 correct*"])


def test_judge_options_come_from_the_recipe_section(twostep, mock_server):
    model, judge = mock_server("--answer", "turn {turn}"), mock_server()
    (twostep.path / "recipe.yaml").write_text(textwrap.dedent(f"""
        judge:
          endpoint: {judge.url}
          model: mock-model
          parallelism: 2
    """))
    result = twostep.runpytest_subprocess("suites/", "--endpoint", model.url, "--recipe", "recipe.yaml",
                                          "--data-dir", "data", "--collect-only", "-q")
    result.stdout.fnmatch_lines([f'*"judge": {{"api_key_env": "JUDGE_API_KEY", "endpoint": "{judge.url}", '
                                 '"model": "mock-model", "parallelism": 2}*'])
    (twostep.path / "recipe.yaml").write_text("judge:\n  endpont: http://x\n")
    bad = twostep.runpytest_subprocess("suites/", "--recipe", "recipe.yaml", "--collect-only")
    bad.stderr.fnmatch_lines(["ERROR: recipe recipe.yaml: unknown key 'judge.endpont' (known: api_key_env, "
                              "endpoint, model, parallelism)"])


def test_a_harness_thread_sends_through_chat_and_an_identical_request_asked_again_is_a_new_occurrence():
    """engine/bridge.py: a synchronous harness in a thread, its calls answered on the event loop."""
    import asyncio
    import threading

    from pytest_nemoeval.engine.bridge import current_chat, run_in_thread

    sent = []

    async def chat(messages, *, lane="model", occurrence=0, **options):
        sent.append((messages[0]["content"], lane, occurrence, threading.current_thread() is threading.main_thread()))
        return {"content": f"{lane}:{occurrence}"}

    def harness(question):
        ask = current_chat()
        replies = [ask([{"role": "user", "content": question}]) for _ in range(3)]  # e.g. retrying an empty reply
        replies.append(ask([{"role": "user", "content": "other"}], lane="user"))
        return [reply["content"] for reply in replies], [lane for lane, _ in ask.replies]

    answers, lanes = asyncio.run(run_in_thread(harness, chat, "q"))
    assert answers == ["model:0", "model:1", "model:2", "user:0"]
    assert lanes == ["model", "model", "model", "user"]
    assert sent == [("q", "model", 0, True), ("q", "model", 1, True), ("q", "model", 2, True), ("other", "user", 0, True)]
    from pytest_nemoeval.suite import request_key

    payload = {"model": "m", "messages": [{"role": "user", "content": "q"}]}
    assert request_key(payload, 0, 0) == request_key(payload, 0)  # the keys of every other request are unchanged
    assert len({request_key(payload, 0, occurrence) for occurrence in range(3)}) == 3  # each asking cached apart
