"""The container suites on a real Docker daemon, through Harbor's own trial code in its own Python 3.12 env: a
one-shot agent scripted by the mock server (through the engine's proxy) solves one task and fails another; the
verdicts come from the tasks' own tests; an agent that never stops is stopped by the task's timeout; a failing
endpoint is an error, not a wrong answer; Ctrl-C and kill -9 leave no container behind; Docker missing or down
is one ERROR line before anything is sent. The tasks (tests/data/harbor) start from busybox:1.35, made locally
(examples/busybox_image.py) where no registry is reachable."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import ROOT, as_from_a_terminal, containers_ready, results, samples
from pytest_nemoeval.tasks.harbor.containers import OWNER_LABEL, owner_id
from pytest_nemoeval.tasks.harbor.datasets import task_row

pytestmark = pytest.mark.usefixtures("run_processes")  # no process of a run may outlive it
TASKS = ROOT / "tests" / "data" / "harbor"
ONESHOT = "nemoeval_oneshot:OneShotAgent"
SOLVE = "```sh\necho hello > /app/hello.txt\n```"
WRONG = "```sh\necho 7 > /app/count.txt\n```"
SECRET = "sk-test-harbor-secret-0123456789"
# Harbor's env and the task images' cache: the user's, not pytester's temporary HOME (else each test builds it)
CACHE = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")


@pytest.fixture(scope="module")
def docker() -> None:
    reason = containers_ready()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def project(pytester: pytest.Pytester, docker, monkeypatch) -> pytest.Pytester:
    monkeypatch.setenv("XDG_CACHE_HOME", CACHE)
    (pytester.path / "suites").mkdir()
    shutil.copy(ROOT / "suites" / "test_terminal_bench_2.py", pytester.path / "suites")
    return pytester


def write_tasks(pytester: pytest.Pytester, *names: str, agent_timeout: float | None = None) -> None:
    rows = []
    for name in names:
        row = task_row(TASKS / name) | {"agent": ONESHOT}
        if agent_timeout is not None:
            row["files"]["task.toml"] = row["files"]["task.toml"].replace(
                "[agent]\ntimeout_sec = 60.0", f"[agent]\ntimeout_sec = {agent_timeout}")
        rows.append(row)
    (pytester.path / "data").mkdir(exist_ok=True)
    (pytester.path / "data" / "terminal_bench_2.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))


def answers(pytester: pytest.Pytester, pairs: list[list[str]]) -> str:
    path = pytester.path / "answers.json"
    path.write_text(json.dumps(pairs))
    return str(path)


def args(server, *more: str) -> list[str]:
    return ["suites/", "--endpoint", server.url, "--data-dir", "data", "-p", "no:cacheprovider", *more]


def containers_of(pytester: pytest.Pytester) -> list[str]:
    owner = owner_id(pytester.path / "results")
    done = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={OWNER_LABEL}={owner}"], capture_output=True,
                          text=True, check=True)
    return done.stdout.split()


def test_a_scripted_agent_solves_one_task_fails_another_and_a_rerun_comes_from_the_cache(project, mock_server,
                                                                                         monkeypatch):
    write_tasks(project, "hello", "count-lines")
    server = mock_server("--answers", answers(project, [["hello.txt", SOLVE], ["count.txt", WRONG]]),
                         "--require-key", SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    result = project.runpytest_subprocess(*args(server, "--set", "benchmarks.terminal_bench_2.data.memory_mb=300"))
    assert result.parseoutcomes() == {"correct": 1, "incorrect": 1}, result.stdout.str()[-3000:]
    trial = json.loads((project.path / "results" / "harbor-trials" / "terminal_bench_2__nemoeval__hello__0"
                        / "config.json").read_text())
    assert trial["environment"]["override_memory_mb"] == 300  # the recipe's container resources reach Harbor
    entry = results(project)["benchmarks"]["terminal_bench_2"]
    assert entry["metrics"]["pass@1"]["value"] == 0.5
    assert set(entry["categories"]["by"]) == {"file-operations", "data-processing"}
    rows = {row["sample_id"]: row for row in samples(project, "terminal_bench_2")}
    assert rows["nemoeval/hello"]["verdict"] == "correct" and rows["nemoeval/hello"]["extracted"] == 1.0
    assert rows["nemoeval/count-lines"]["verdict"] == "incorrect"
    assert all(row["agent_requests"] == 1 and row["phases"]["verifier"] is not None for row in rows.values())
    assert server.chat_requests() == 2
    assert containers_of(project) == []
    # the endpoint's key reached the engine only: the agent had a per-item token
    for path in (project.path / "results").rglob("*"):
        if path.is_file() and path.suffix != ".sqlite":
            assert SECRET not in path.read_text(errors="replace"), path
    # a rerun: the agent asks the same question, the engine answers from its cache (exact resume)
    again = project.runpytest_subprocess(*args(server))
    assert again.parseoutcomes() == {"correct": 1, "incorrect": 1}
    assert server.chat_requests() == 2


@pytest.mark.parametrize("stuck", ["a command that never ends", "a model that does not answer"])
def test_an_agent_that_never_stops_is_stopped_by_the_tasks_timeout_and_graded_on_what_it_left(project, mock_server,
                                                                                              stuck):
    write_tasks(project, "slow", agent_timeout=3.0)
    if stuck == "a command that never ends":
        server = mock_server("--answer", "```sh\nsleep 600\n```")
    else:  # the agent's request is still waiting on the engine when its time is up: cancelled, not waited for
        server = mock_server("--answer", "```sh\ntrue\n```", "--latency", "60")
    started = time.monotonic()
    result = project.runpytest_subprocess(*args(server))
    assert result.parseoutcomes() == {"incorrect": 1}, result.stdout.str()[-3000:]
    assert time.monotonic() - started < 50
    (row,) = samples(project, "terminal_bench_2")
    assert row["agent_exception"] == "AgentTimeoutError" and row["extracted"] == 0.0
    assert containers_of(project) == []


def test_a_failing_endpoint_is_an_error_not_a_wrong_answer(project, mock_server):
    write_tasks(project, "hello")
    server = mock_server("--fault", "500:100")
    result = project.runpytest_subprocess(*args(server, "--max-retries", "1"))
    assert result.ret != 0
    (row,) = samples(project, "terminal_bench_2")
    assert row["verdict"] == "error" and "a model request of the agent failed" in row["error"]
    assert containers_of(project) == []


def test_an_agent_inside_the_container_reaches_the_engine_through_the_runs_network(project, mock_server, monkeypatch):
    # OpenHands' case: the request leaves the task's container (busybox wget), not Harbor's process
    monkeypatch.setenv("NEMOEVAL_AGENT_PATH", str(ROOT / "tests" / "harbor_agents"))
    write_tasks(project, "hello")
    rows = (project.path / "data" / "terminal_bench_2.jsonl").read_text()
    (project.path / "data" / "terminal_bench_2.jsonl").write_text(rows.replace(ONESHOT,
                                                                               "nemoeval_incontainer:InContainerAgent"))
    server = mock_server("--answer", SOLVE)
    inside = "benchmarks.terminal_bench_2.data.agent_in_container=true"  # else the container has no network at all
    result = project.runpytest_subprocess(*args(server, "--set", inside))
    assert result.parseoutcomes() == {"correct": 1}, result.stdout.str()[-3000:]
    (row,) = samples(project, "terminal_bench_2")
    assert row["agent_requests"] == 1 and server.chat_requests() == 1
    assert containers_of(project) == []


def _start(project: pytest.Pytester, server) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pytest", *args(server)], cwd=project.path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=as_from_a_terminal)


def _wait_for_container(project: pytest.Pytester, timeout: float = 120) -> list[str]:
    deadline = time.monotonic() + timeout
    while not (found := containers_of(project)):
        assert time.monotonic() < deadline, "no container started"
        time.sleep(0.2)
    return found


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL])
def test_ctrl_c_and_kill_9_leave_no_container_behind(project, mock_server, signum):
    write_tasks(project, "slow", agent_timeout=600.0)
    server = mock_server("--answer", "```sh\nsleep 600\n```")
    process = _start(project, server)
    left = _wait_for_container(project)
    if signum == signal.SIGINT:  # Ctrl-C: to the terminal's process group
        os.killpg(process.pid, signal.SIGINT)
        out, _ = process.communicate(timeout=60)
        assert process.returncode == 2, out[-3000:]
        assert not (project.path / "results" / "results.json").exists()
        assert containers_of(project) == []
        return
    process.kill()  # kill -9 of pytest alone: its engine and Harbor's trial go on until they notice
    process.wait()
    assert set(left) <= set(containers_of(project))
    # the next run in the same results directory removes what the killed one left before it starts any trial
    write_tasks(project, "hello")
    quick = mock_server("--answer", SOLVE)
    result = project.runpytest_subprocess(*args(quick))
    assert result.parseoutcomes() == {"correct": 1}, result.stdout.str()[-3000:]
    assert containers_of(project) == []


@pytest.mark.parametrize("environment, message", [
    ({"PATH": "/nonexistent"}, "the container suites need Docker and no docker command was found"),
    ({"DOCKER_HOST": "unix:///nonexistent.sock"}, "the container suites need a running Docker daemon"),
])
def test_docker_missing_or_down_is_one_error_line_before_anything_is_sent(project, mock_server, monkeypatch,
                                                                          environment, message):
    write_tasks(project, "hello")
    server = mock_server("--answer", SOLVE)
    for key, value in environment.items():
        monkeypatch.setenv(key, value if key != "PATH" else f"{Path(sys.executable).parent}{os.pathsep}{value}")
    result = project.runpytest_subprocess(*args(server))
    assert result.ret != 0
    errors = [line for line in result.stderr.lines + result.stdout.lines if line.startswith("ERROR:")]
    assert len(errors) == 1 and message in errors[0], result.stdout.str()[-2000:]
    assert server.chat_requests() == 0
    assert not (project.path / "results" / "results.json").exists()


def test_harbors_process_gets_none_of_the_runs_keys(monkeypatch):
    from pytest_nemoeval.tasks.harbor import without_keys

    for name in ("MODEL_KEY", "JUDGE_KEY", "USER_KEY", "OTHER"):
        monkeypatch.setenv(name, "value")
    settings = {"api_key_env": "MODEL_KEY", "judge": {"api_key_env": "JUDGE_KEY"}, "user": {"api_key_env": "USER_KEY"},
                "critpt": {"api_key_env": None}}
    env = without_keys(settings)
    assert "OTHER" in env and not {"MODEL_KEY", "JUDGE_KEY", "USER_KEY"} & set(env)


def test_trials_starting_at_once_share_one_network(docker):
    # the smoke line's first SWE-bench trials asked for the run's network at the same moment: one makes it
    import concurrent.futures
    import uuid

    from pytest_nemoeval.tasks.harbor import containers

    owner = f"test-{uuid.uuid4().hex[:8]}"
    try:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            found = set(pool.map(containers.agent_network, [owner] * 4))
        assert len(found) == 1
        containers._networks.clear()  # another process made it: read, not made again
        assert containers.agent_network(owner) in found
    finally:
        subprocess.run(["docker", "network", "rm", f"nemoeval-{owner}"], capture_output=True)


def test_the_hard_limit_allows_the_suites_agent_timeout_not_only_the_tasks():
    # Terminal-Bench 2.0's playbook gives the agent 3600 s whatever a task's own timeout says: the plugin's
    # kill must not come first
    from pytest_nemoeval.tasks.harbor import GRACE, timeouts

    task = TASKS / "hello"  # build 120 s, agent 60 s, verifier 60 s
    assert timeouts(task) == GRACE + 120 + 60 + 60
    assert timeouts(task, 3600.0) == GRACE + 120 + 3600 + 60
