"""Model servers the plugin starts itself: one small module per backend, one shared lifecycle (process.py).

A backend module has `DEFAULT_TIMEOUT`, `LABEL`, `check(deployment)` (pre-launch checks, one clear line),
`command(deployment, port)` (the exact server command line) and `provenance(deployment)` (what goes into
results.json). `--deploy NAME` picks it; without --endpoint and --deploy the embedded model starts.
"""

from __future__ import annotations

import importlib
import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from pytest_nemoeval.servers.process import ServerProcess, free_port

BACKENDS = ("embedded", "vllm")
VLLM_ONLY = ("tensor_parallel_size", "data_parallel_size", "expert_parallel", "served_model_name", "max_model_len",
             "hf_overrides")


@dataclass(frozen=True)
class Deployment:
    """The resolved `deployment:` section (and --model) of one run."""

    backend: str
    model: str | None
    tensor_parallel_size: int
    data_parallel_size: int
    expert_parallel: bool
    served_model_name: str | None
    timeout: float
    args: tuple[str, ...]
    parallelism: int
    max_model_len: int | None = None  # vLLM: the context window to serve
    hf_overrides: str | None = None  # vLLM: JSON text of model config overrides (rope scaling for long context)

    @property
    def served_name(self) -> str | None:
        return self.served_model_name or self.model

    def module(self) -> ModuleType:
        return importlib.import_module(f"pytest_nemoeval.servers.{self.backend}")

    def server(self, log_path: Path) -> ServerProcess:
        """The server to start (checks first); nothing runs until ServerProcess.start()."""
        backend = self.module()
        backend.check(self)
        port = free_port()
        return ServerProcess(backend.LABEL, backend.command(self, port), port, log_path)

    def summary(self, command: list[str] | None = None) -> dict[str, Any]:
        """For --collect-only and results.json: backend, model, the exact command line (the started server's,
        else the one it would run, on port 8000), ready timeout."""
        backend = self.module()
        command = command if command is not None else backend.command(self, 8000)
        return {"backend": self.backend, "model": self.model, "command": shlex.join(command),
                "timeout": self.timeout, **backend.provenance(self)}


def deployment_from(section: dict[str, Any], model: str | None, endpoint: str | None,
                    parallelism: int) -> Deployment | None:
    """The deployment of a run, or None when it connects to --endpoint; one clear line for bad combinations."""
    backend = section.get("backend")
    if endpoint is not None:
        if backend is not None:
            raise pytest.UsageError(f"--deploy {backend} and --endpoint {endpoint} exclude each other: deploy a "
                                    "server, or connect to a running one")
        return None
    backend = backend or "embedded"
    if backend not in BACKENDS:
        raise pytest.UsageError(f"--deploy {backend}: unknown backend (known: {', '.join(BACKENDS)})")
    if backend != "vllm":
        given = [key for key in VLLM_ONLY if section.get(key) is not None]
        if given:
            flag = "--" + given[0].replace("_", "-")
            raise pytest.UsageError(f"{flag} (or the recipe's deployment.{given[0]}) applies to --deploy vllm only: "
                                    "pass --deploy vllm, or --endpoint URL of a running server")
    tp, dp = section.get("tensor_parallel_size"), section.get("data_parallel_size")
    ep = section.get("expert_parallel")
    if ep is not None:
        # EP=N: --enable-expert-parallel over TP x DP = N GPUs; TP=1, DP=N unless one of them is given
        if tp is None and dp is None:
            tp, dp = 1, ep
        elif dp is None:
            dp = ep // tp
        elif tp is None:
            tp = ep // dp
        if tp * dp != ep:
            raise pytest.UsageError(f"--expert-parallel {ep} needs --tensor-parallel-size x --data-parallel-size = "
                                    f"{ep}, got {tp} x {dp}")
    backend_module = importlib.import_module(f"pytest_nemoeval.servers.{backend}")
    if backend == "vllm" and model is None:
        raise pytest.UsageError("--deploy vllm needs --model (a Hugging Face model id or a local checkpoint "
                                "directory)")
    return Deployment(backend=backend, model=model, tensor_parallel_size=tp or 1, data_parallel_size=dp or 1,
                      expert_parallel=ep is not None, served_model_name=section.get("served_model_name"),
                      timeout=section.get("timeout") or backend_module.DEFAULT_TIMEOUT,
                      args=tuple(section.get("args") or ()), parallelism=parallelism,
                      max_model_len=section.get("max_model_len"),
                      hf_overrides=json.dumps(section["hf_overrides"], sort_keys=True)
                      if section.get("hf_overrides") else None)
