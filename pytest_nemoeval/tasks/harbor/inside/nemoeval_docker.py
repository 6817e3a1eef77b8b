"""A Harbor environment on the plain Docker CLI: one container per trial, labelled so that any run can find it.

Runs inside Harbor's own Python (>= 3.12), imported by path (`--env nemoeval_docker:NemoevalDocker`); it imports
Harbor, never pytest_nemoeval. Harbor's own `docker` environment drives Docker Compose v2, which Debian's
packages do not ship; this one needs only `docker build/run/exec/cp/rm`, and adds what pytest-nemoeval promises:
- every container carries `nemoeval.owner=<results dir id>` and `nemoeval.trial=<item's trial>` (NEMOEVAL_OWNER,
  NEMOEVAL_TRIAL): the plugin removes a
  killed run's leftovers by that label before its next run in the same results directory;
- the network is `none` unless the task declares `network_mode = "public"` (allowlists are refused by Harbor's
  own capability check: this environment cannot enforce one); for an agent that runs inside the container
  (NEMOEVAL_NETWORK), the results directory's network, whose gateway is where the engine's proxy listens;
- the task's cpus / memory become `--cpus` / `--memory`.
"""

from __future__ import annotations

import asyncio
import os
import shlex
from pathlib import Path

from harbor.environments.base import BaseEnvironment, ExecResult
from harbor.environments.capabilities import EnvironmentCapabilities

OWNER_LABEL = "nemoeval.owner"
TRIAL_LABEL = "nemoeval.trial"


class NemoevalDocker(BaseEnvironment):
    @staticmethod
    def type() -> str:
        return "nemoeval-docker"

    @property
    def capabilities(self) -> EnvironmentCapabilities:
        return EnvironmentCapabilities(disable_internet=True)

    def _validate_definition(self) -> None:
        if not self.task_env_config.docker_image and not (self.environment_dir / "Dockerfile").is_file():
            raise FileNotFoundError(f"{self.environment_dir / 'Dockerfile'} not found and no docker_image is set")

    @property
    def _container(self) -> str:
        name = f"{os.environ.get('NEMOEVAL_OWNER', '')[:8]}-{os.environ.get('NEMOEVAL_TRIAL', self.session_id)}"
        return "nemoeval-" + "".join(c if c.isalnum() or c in "_.-" else "-" for c in name)[:120]

    @property
    def _image(self) -> str:
        return self.task_env_config.docker_image or f"nemoeval-harbor/{self.environment_id[:24]}:local"

    async def _docker(self, *args: str, timeout: float | None = None, stdin: bytes | None = None) -> ExecResult:
        process = await asyncio.create_subprocess_exec(
            "docker", *args, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(process.communicate(stdin), timeout)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()
            return ExecResult(stdout="", stderr=f"timed out after {timeout} s", return_code=124)
        return ExecResult(stdout=out.decode(errors="replace"), stderr=err.decode(errors="replace"),
                          return_code=process.returncode or 0)

    async def _checked(self, *args: str, timeout: float | None = None) -> ExecResult:
        result = await self._docker(*args, timeout=timeout)
        if result.return_code != 0:
            raise RuntimeError(f"docker {args[0]} failed ({result.return_code}): {(result.stderr or '')[-2000:]}")
        return result

    async def start(self, force_build: bool) -> None:
        if not self.task_env_config.docker_image:
            present = await self._docker("image", "inspect", self._image)
            if force_build or present.return_code != 0:
                await self._checked("build", "-q", "-t", self._image, str(self.environment_dir),
                                    timeout=self.task_env_config.build_timeout_sec)
        run = ["run", "-d", "--name", self._container,
               "--label", f"{OWNER_LABEL}={os.environ.get('NEMOEVAL_OWNER', '')}",
               "--label", f"{TRIAL_LABEL}={os.environ.get('NEMOEVAL_TRIAL', self.session_id)}", "--init"]
        network = os.environ.get("NEMOEVAL_NETWORK")  # an agent inside: the run's network, the proxy at its gateway
        run += ["--network", network] if network else ["--network", "none"] if not self._network_is_public else []
        if self.task_env_config.cpus:
            run += ["--cpus", str(self.task_env_config.cpus)]
        if self.task_env_config.memory_mb:
            run += ["--memory", f"{self.task_env_config.memory_mb}m"]
        for key, value in (self.task_env_config.env or {}).items():
            run += ["-e", f"{key}={value}"]
        if self.task_env_config.workdir:
            run += ["-w", self.task_env_config.workdir]
        await self._checked(*run, self._image, "sh", "-c", "sleep 2147483647", timeout=120)
        await self._checked("exec", self._container, "mkdir", "-p", "/logs/agent", "/logs/verifier", "/logs/artifacts",
                            timeout=60)

    async def stop(self, delete: bool) -> None:
        await self._docker("rm", "-f", "-v", self._container, timeout=120)

    async def upload_file(self, source_path: Path | str, target_path: str) -> None:
        await self._checked("exec", self._container, "mkdir", "-p", str(Path(target_path).parent), timeout=60)
        await self._checked("cp", str(source_path), f"{self._container}:{target_path}", timeout=600)

    async def upload_dir(self, source_dir: Path | str, target_dir: str) -> None:
        await self._checked("exec", self._container, "mkdir", "-p", target_dir, timeout=60)
        await self._checked("cp", f"{source_dir}/.", f"{self._container}:{target_dir}", timeout=600)

    async def download_file(self, source_path: str, target_path: Path | str) -> None:
        Path(target_path).parent.mkdir(parents=True, exist_ok=True)
        await self._checked("cp", f"{self._container}:{source_path}", str(target_path), timeout=600)

    async def download_dir(self, source_dir: str, target_dir: Path | str) -> None:
        Path(target_dir).mkdir(parents=True, exist_ok=True)
        await self._checked("cp", f"{self._container}:{source_dir}/.", str(target_dir), timeout=600)

    async def exec(self, command: str, cwd: str | None = None, env: dict[str, str] | None = None,
                   timeout_sec: int | None = None, user: str | int | None = None) -> ExecResult:
        args = ["exec"]
        if cwd or self.task_env_config.workdir:
            args += ["-w", cwd or self.task_env_config.workdir]
        for key, value in (self._merge_env(env) or {}).items():
            args += ["-e", f"{key}={value}"]
        user = self._resolve_user(user)
        if user is not None:
            args += ["-u", str(user)]
        # the command runs under `timeout` inside the container too, so a killed `docker exec` leaves no process
        inner = f"timeout -s KILL {int(timeout_sec)} sh -c {shlex.quote(command)}" if timeout_sec else command
        return await self._docker(*args, self._container, "sh", "-c", inner,
                                  timeout=None if timeout_sec is None else timeout_sec + 10)
