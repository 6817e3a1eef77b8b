"""Virtualenvs of their own for packages that need a newer Python than this plugin's (Harbor, NeMo Evaluator 0.3:
Python >= 3.12): made once with uv (or venv + pip), cached under ~/.cache/pytest-nemoeval/<name>, reused.

Why not raise the plugin's minimum to 3.12: 3.11 is what many clusters' images still ship, and only two
suites' harnesses need more; they run as subprocesses of their own interpreter and talk to the engine over
HTTP (engine/proxy.py), so nothing of theirs is imported here. A lock keeps two processes (xdist workers) from
building one env at once; a marker file says it is complete, so an interrupted build is redone. Bytecode is
compiled at install: a trial process imports LiteLLM, 15 s of compiling each time where PYTHONDONTWRITEBYTECODE
is set, 2 s from bytecode.
"""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

from pytest_nemoeval.errors import DataError


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pytest-nemoeval"


def python312() -> str | None:
    """A Python 3.12 or 3.13 that runs: this one, one on PATH, or one under pyenv (a pyenv shim of a version not
    selected is on PATH but does not run); NEMOEVAL_PYTHON312 names one explicitly."""
    candidates = [os.environ.get("NEMOEVAL_PYTHON312"), sys.executable, shutil.which("python3.12"),
                  shutil.which("python3.13")]
    pyenv = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates += sorted(glob.glob(f"{pyenv}/versions/3.1[23].*/bin/python"))
    check = "import sys; sys.exit(not (3, 12) <= sys.version_info < (3, 14))"
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "-c", check], capture_output=True).returncode == 0:
            return candidate
    return None


def venv_python(name: str, requirements: list[str], purpose: str) -> Path:
    """The python of the cached virtualenv `name` with `requirements` installed (built on first use);
    DataError with one line saying how to fix it when no Python >= 3.12 exists or the install fails."""
    venv = cache_root() / name
    python = venv / "bin" / "python"
    marker = venv / "complete"
    wanted = "\n".join(requirements)
    if marker.is_file() and marker.read_text() == wanted:
        return python
    interpreter = python312()
    if interpreter is None:
        raise DataError(f"{purpose} needs Python 3.12 or 3.13 and none was found: install one (python3.12 on PATH) "
                        "or name it with NEMOEVAL_PYTHON312=/path/to/python3.12")
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file() and marker.read_text() == wanted:
            return python
        shutil.rmtree(venv, ignore_errors=True)
        uv = [sys.executable, "-m", "uv"]
        if subprocess.run([*uv, "--version"], capture_output=True).returncode == 0:
            steps = [[*uv, "venv", "-q", "-p", interpreter, str(venv)],
                     [*uv, "pip", "install", "-q", "--compile-bytecode", "-p", str(python), *requirements]]
        else:
            steps = [[interpreter, "-m", "venv", str(venv)],
                     [str(python), "-m", "pip", "install", "-q", "--compile", *requirements]]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True)
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
                raise DataError(f"{purpose}: installing {' '.join(requirements)} into {venv} failed: {last}")
        marker.write_text(wanted)
    return python
