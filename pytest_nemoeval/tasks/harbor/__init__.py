"""Agents in containers through Harbor (harborframework.com; NeMo Evaluator 0.3's `harbor://` playbooks): one
item per (task, repeat) is one Harbor trial: Harbor builds and starts the task's container, runs the agent
(Terminus-2 for Terminal-Bench, OpenHands for SWE-bench), then the task's own tests write the reward.

How (decided here, docs/containers.md):
- Harbor needs Python >= 3.12; this plugin supports 3.11. Harbor runs in a virtualenv of its own, made and cached
  by the plugin (pytest_nemoeval/venvs.py), one subprocess per trial (inside/nemoeval_trial.py).
- The agent's model calls go to the engine's OpenAI-compatible proxy (engine/proxy.py) with a per-item key:
  retries, the response cache (exact resume), usage, the status line and the real key's secrecy hold for agent
  traffic as for any request.
- Containers run on the plain Docker CLI (inside/nemoeval_docker.py: Harbor's own environment needs Docker
  Compose v2), labelled with the results directory's owner id; no network unless the task declares it. They are
  removed at a trial's end, on -x / Ctrl-C (the trial's process group is killed, its containers removed by label)
  and, after a kill -9, by the next run in the same results directory before it starts any.
- At most --container-workers trials at once (default: from the machine's cores and memory).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import signal
from pathlib import Path
from typing import Any

from pytest_nemoeval.errors import DataError, GenerationError
from pytest_nemoeval.tasks.harbor import containers
from pytest_nemoeval.venvs import cache_root, venv_python

HARBOR = "harbor==0.26.0"
INSIDE = Path(__file__).parent / "inside"
ENVIRONMENT = "nemoeval_docker:NemoevalDocker"
# seconds a trial may take beyond its task's own timeouts (build, agent, verifier) before it is killed
GRACE = 300.0


def harbor_python() -> Path:
    return venv_python("harbor-0.26.0", [HARBOR], "the container suites (Harbor)")


def materialize(row: dict[str, Any]) -> Path:
    """The task directory of a row (its files as text, binary ones base64), written once per content into the
    cache; Harbor reads the task from there."""
    files = row.get("files")
    if not isinstance(files, dict) or "task.toml" not in files:
        raise DataError(f"harbor task {row.get('name')!r}: its row has no files with a task.toml")
    digest = hashlib.sha256(json.dumps([files, row.get("binary") or {}], sort_keys=True).encode()).hexdigest()[:20]
    directory = cache_root() / "harbor-tasks" / f"{row['name'].replace('/', '__')}-{digest}"
    if (directory / ".complete").is_file():
        return directory
    for relative, text in files.items():
        _write(directory, relative, text.encode())
    for relative, encoded in (row.get("binary") or {}).items():
        _write(directory, relative, base64.b64decode(encoded))
    (directory / ".complete").write_text(digest)
    return directory


def _write(directory: Path, relative: str, content: bytes) -> None:
    path = (directory / relative).resolve()
    if directory.resolve() not in path.parents:
        raise DataError(f"harbor task file {relative!r} points outside its task directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    if path.suffix == ".sh" or content.startswith(b"#!"):
        path.chmod(0o755)


def timeouts(task: Path, agent_timeout: float | None = None) -> float:
    """The longest a trial of this task may take: its build, agent (the suite's override if any, as Harbor takes
    it) and verifier timeouts, plus GRACE."""
    import tomllib

    config = tomllib.loads((task / "task.toml").read_text())
    def seconds(section: str, key: str) -> float:
        return float((config.get(section) or {}).get(key) or 600.0)  # Harbor's default

    return (GRACE + seconds("environment", "build_timeout_sec") + (agent_timeout or seconds("agent", "timeout_sec"))
            + seconds("verifier", "timeout_sec"))


async def run_trial(sample: dict[str, Any], chat: Any, published: dict[str, Any]) -> dict[str, Any]:
    """A container suite's driver: Harbor trial `chat.repeat` of task `sample` with the suite's `published` agent
    settings (DATA_OPTIONS, overridden by the recipe's data options); its model calls go through the engine's
    proxy. The response holds Harbor's rewards and timings."""
    from pytest_nemoeval.engine.proxy import routed, traffic

    options = {**DATA_OPTIONS, **published, **chat.data}
    agent = agent_config(sample, options)
    settings = chat.settings
    task = materialize(sample)
    owner = containers.owner_id(settings["results_dir"])
    suite = Path(chat.suite_path).stem.removeprefix("test_")
    trial = f"{suite}__{sample['name'].replace('/', '__')}__{chat.repeat}"
    trials_dir = Path(settings["results_dir"]) / "harbor-trials"
    python = harbor_python()
    network = await asyncio.to_thread(containers.agent_network, owner) if options["agent_in_container"] else None
    async with containers.slots(settings), routed(chat, network and network[1]) as (base_url, key):
        spec = {"task": str(task), "trials_dir": str(trials_dir), "trial_name": trial,
                "environment_import_path": ENVIRONMENT, "override_cpus": options["cpus"],
                "override_memory_mb": options["memory_mb"],
                "agent": {**agent, "model_name": f"openai/{chat.model}",
                          "kwargs": {"api_base": base_url, **agent.get("kwargs", {})}}}
        env = {**without_keys(settings), "PYTHONPATH": os.pathsep.join([str(INSIDE), *agent_paths(settings)]),
               "NEMOEVAL_OWNER": owner, "NEMOEVAL_TRIAL": trial, "OPENAI_API_KEY": key, "OPENAI_BASE_URL": base_url,
               "LLM_API_KEY": key, "LLM_BASE_URL": base_url, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
               "LITELLM_LOG": "ERROR", "HARBOR_TELEMETRY": "0", "NEMOEVAL_NETWORK": network[0] if network else ""}
        outcome = await _trial_process(python, spec, env, timeouts(task, agent.get("override_timeout_sec")), owner, trial)
        outcome["requests"], failure = traffic(key)
    if failure is not None:  # a sick endpoint, not the agent: an error (a full context is not a failure)
        raise GenerationError(f"harbor trial {trial}: a model request of the agent failed after the engine's "
                              f"retries: {failure}")
    if not outcome["rewards"]:  # the container did not build or start, the tests did not run: an error, not a fail
        failure = outcome.get("exception") or {}
        raise GenerationError(f"harbor trial {trial}: no reward, the task's tests did not run: "
                              f"{failure.get('type', 'unknown')}: {failure.get('message', '')}"[:500])
    return outcome


def without_keys(settings: dict[str, Any]) -> dict[str, str]:
    """This process's environment without the run's API keys (model, judge, user, CritPt): the agent gets its
    item's proxy key only, so no key of the run can reach Harbor's process or a container."""
    names = {settings.get("api_key_env")} | {(settings.get(section) or {}).get("api_key_env")
                                             for section in ("judge", "user", "critpt")}
    return {name: value for name, value in os.environ.items() if name not in names}


def agent_paths(settings: dict[str, Any]) -> list[str]:
    """Directories Harbor imports agents from besides its own (NEMOEVAL_AGENT_PATH, e.g. a team's own agent)."""
    return [path for path in os.environ.get("NEMOEVAL_AGENT_PATH", "").split(os.pathsep) if path]


async def _trial_process(python: Path, spec: dict[str, Any], env: dict[str, str], limit: float, owner: str,
                         trial: str) -> dict[str, Any]:
    """Run inside/nemoeval_trial.py; its stderr (Harbor's log) is kept beside the trial's directory."""
    trials_dir = Path(spec["trials_dir"])
    trials_dir.mkdir(parents=True, exist_ok=True)
    spec_file, log_file = trials_dir / f"{trial}.spec.json", trials_dir / f"{trial}.log"
    spec_file.write_text(json.dumps(spec))
    with open(log_file, "wb") as log:
        process = await asyncio.create_subprocess_exec(
            str(python), str(INSIDE / "nemoeval_trial.py"), str(spec_file), env=env, stdout=asyncio.subprocess.PIPE,
            stderr=log, start_new_session=True)  # its own process group: killed whole on -x, Ctrl-C, timeout
        try:
            out, _ = await asyncio.wait_for(process.communicate(), limit)
        except (asyncio.CancelledError, asyncio.TimeoutError) as stop:
            _kill_group(process.pid)
            await process.wait()
            await containers.remove(owner, trial)
            if isinstance(stop, asyncio.CancelledError):
                raise
            raise GenerationError(f"harbor trial {trial} took longer than {limit:.0f} s (its task's build, agent "
                                  "and verifier timeouts plus 300 s): killed, its container removed") from None
    for line in reversed(out.decode(errors="replace").splitlines()):
        if line.startswith("NEMOEVAL_TRIAL "):
            return json.loads(line.removeprefix("NEMOEVAL_TRIAL "))
    last = (log_file.read_text(errors="replace").strip().splitlines() or ["(no output)"])[-1]
    raise GenerationError(f"harbor trial {trial} ended with exit status {process.returncode} and no result: {last} "
                          f"(log: {log_file})")


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def score(sample: dict[str, Any], response: Any, verdict: Any) -> None:
    """Passed when the task's tests gave reward 1 (Terminal-Bench: every test passed; SWE-bench: resolved); an
    agent that timed out is still graded on what it left, as Harbor does."""
    body = response.body
    rewards = body["rewards"]
    reward = float(rewards.get("reward", next(iter(rewards.values()))))
    verdict(reward >= 1.0, answer=reward, expected=1.0, metric_inputs={"reward": reward},
            agent_exception=(body.get("exception") or {}).get("type"), phases=body.get("phases"),
            agent_requests=body.get("requests"))


# the suites' data options (recipe `benchmarks.<name>.data`): the agent and its settings, the container's resources
# agent_in_container: the agent runs inside the task's container (OpenHands), which then joins the results
# directory's Docker network and reaches the engine's proxy at its gateway
DATA_OPTIONS = {"agent": None, "agent_kwargs": {}, "agent_timeout_sec": None, "cpus": None, "memory_mb": None,
                "agent_in_container": False}


def agent_config(sample: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """Harbor's AgentConfig fields of a trial: the row's pinned agent (the smoke examples'), else the suite's."""
    pinned = sample.get("agent")
    agent: str = pinned or options["agent"]
    config: dict[str, Any] = {"import_path": agent} if ":" in agent else {"name": agent}
    if not pinned:
        config["kwargs"] = dict(options["agent_kwargs"] or {})
        if options["agent_timeout_sec"]:
            config["override_timeout_sec"] = float(options["agent_timeout_sec"])
    return config


def container_suite(name: str, dataset: Any, published: dict[str, Any], driver: Any, repeats: int = 1) -> Any:
    """A container suite: Harbor task set `dataset`, each (task, repeat) one trial run by `driver` (the suite
    module's `trial`, which calls run_trial with the same `published` agent settings)."""
    from pytest_nemoeval import Suite

    return Suite(name=name, data=lambda _: dataset, data_options={**DATA_OPTIONS, **published},
                 required_fields=("name", "files"), repeats=repeats, primary_metric="pass@1", id_field="name",
                 category_field="category", driver=driver, preflight=containers.check_daemon)
