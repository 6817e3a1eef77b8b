"""Run one Harbor trial and print its outcome as one JSON line: `python nemoeval_trial.py SPEC.json`.

Runs inside Harbor's own Python (>= 3.12) with this directory on PYTHONPATH; it imports Harbor, never
pytest_nemoeval. SPEC: {"task": dir, "trials_dir": dir, "trial_name": str, "agent": Harbor AgentConfig fields,
"environment_import_path": str, "override_cpus" / "override_memory_mb": the container's resources or null (the
task's)}. The trial is
Harbor's own (`Trial.create(TrialConfig)`): environment build and start, agent setup and run, the task's tests,
the reward they write; this script only reports what Harbor's TrialResult says.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from harbor.models.trial.config import AgentConfig, EnvironmentConfig, TaskConfig, TrialConfig
from harbor.trial.trial import Trial


def _config(spec: dict[str, Any]) -> TrialConfig:
    return TrialConfig(
        task=TaskConfig(path=Path(spec["task"])), trial_name=spec["trial_name"], trials_dir=Path(spec["trials_dir"]),
        agent=AgentConfig(**spec["agent"]), timeout_multiplier=spec.get("timeout_multiplier", 1.0),
        environment=EnvironmentConfig(import_path=spec["environment_import_path"], delete=True,
                                      override_cpus=spec.get("override_cpus"),
                                      override_memory_mb=spec.get("override_memory_mb")))


def _outcome(result: Any) -> dict[str, Any]:
    rewards = (result.verifier_result.rewards if result.verifier_result else None) or {}
    context = result.agent_result
    failure = result.exception_info
    return {"rewards": rewards,
            "exception": None if failure is None else {"type": failure.exception_type,
                                                       "message": (failure.exception_message or "")[-2000:]},
            "input_tokens": getattr(context, "n_input_tokens", None),
            "output_tokens": getattr(context, "n_output_tokens", None),
            "phases": {name: _seconds(getattr(result, name)) for name in
                       ("environment_setup", "agent_setup", "agent_execution", "verifier")},
            "trial_uri": result.trial_uri}


def _seconds(timing: Any) -> float | None:
    if timing is None or timing.started_at is None or timing.finished_at is None:
        return None
    return round((timing.finished_at - timing.started_at).total_seconds(), 3)


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    trial = await Trial.create(_config(spec))
    return _outcome(await trial.run())


if __name__ == "__main__":
    outcome = asyncio.run(main(json.loads(Path(sys.argv[1]).read_text())))
    print("NEMOEVAL_TRIAL " + json.dumps(outcome), flush=True)
