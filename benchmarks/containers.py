"""Container trials: the plugin's start-to-verdict time per task against Harbor alone on the same tasks, and tasks
per minute at the default parallelism.

    python benchmarks/containers.py [--tasks 8] [--workers N]

Both sides run the same N small tasks (tests/data/harbor's hello and count-lines, copied under distinct names)
with the same agent (the one-shot agent, which asks its model once and runs the reply), the same environment
(inside/nemoeval_docker.py) and N workers at once, against one tests/mockserver.py endpoint that answers at
once. Harbor alone: `harbor run -p TASKS -n N` (Harbor's own job: one process for every trial, the agent
calling the mock server directly). plugin: `pytest suites/test_terminal_bench_2.py --container-workers N`
(one Harbor process per trial, every model request through the engine's proxy, the response store, results).
Needs Docker, a Python >= 3.12 and busybox:1.35 (examples/busybox_image.py). Prints wall times and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import ROOT, Mock, check, run_pytest  # noqa: E402

sys.path.insert(0, str(ROOT / "examples"))
from busybox_image import build  # noqa: E402

from pytest_nemoeval.tasks.harbor import INSIDE, harbor_python  # noqa: E402
from pytest_nemoeval.tasks.harbor.containers import default_workers  # noqa: E402
from pytest_nemoeval.tasks.harbor.datasets import task_row  # noqa: E402

ANSWERS = [["hello.txt", "```sh\necho hello > /app/hello.txt\n```"],
           ["count.txt", "```sh\necho 7 > /app/count.txt\n```"]]


def make_tasks(directory: Path, count: int) -> list[Path]:
    made = []
    for index in range(count):
        source = ["hello", "count-lines"][index % 2]
        task = directory / f"{source}-{index}"
        shutil.copytree(ROOT / "tests" / "data" / "harbor" / source, task)
        toml = task / "task.toml"
        toml.write_text(toml.read_text().replace(f'name = "nemoeval/{source}"', f'name = "nemoeval/{source}-{index}"'))
        made.append(task)
    return made


def harbor_alone(tasks: Path, mock: Mock, workers: int, scratch: Path) -> float:
    harbor = harbor_python().parent / "harbor"
    env = {**os.environ, "PYTHONPATH": str(INSIDE), "NEMOEVAL_OWNER": "benchmark", "OPENAI_API_KEY": "x",
           "HARBOR_TELEMETRY": "0", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    started = time.perf_counter()
    subprocess.run([str(harbor), "run", "-p", str(tasks), "--agent-import-path", "nemoeval_oneshot:OneShotAgent",
                    "-m", "openai/mock-model", "--ak", f"api_base={mock.url}/v1", "--env",
                    "nemoeval_docker:NemoevalDocker", "-n", str(workers), "-o", str(scratch / "jobs"), "-q", "-y"],
                   env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def plugin(tasks: list[Path], mock: Mock, workers: int, scratch: Path) -> float:
    project = scratch / "project"
    (project / "suites").mkdir(parents=True)
    (project / "data").mkdir()
    shutil.copy(ROOT / "suites" / "test_terminal_bench_2.py", project / "suites")
    rows = [task_row(task) | {"agent": "nemoeval_oneshot:OneShotAgent"} for task in tasks]
    (project / "data" / "terminal_bench_2.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    run = check(run_pytest(project, "suites/", "--endpoint", mock.url, "--data-dir", "data", "--container-workers",
                           str(workers), "-q"))
    if f"{len(tasks) // 2} correct" not in run.output:
        raise SystemExit(f"unexpected verdicts:\n{run.output[-2000:]}")
    return run.wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--workers", type=int, default=default_workers())
    options = parser.parse_args()
    build()
    harbor_python()  # built once, outside the timings
    with tempfile.TemporaryDirectory(prefix="nemoeval-containers-") as scratch_name:
        scratch = Path(scratch_name)
        (scratch / "answers.json").write_text(json.dumps(ANSWERS))
        tasks = make_tasks(scratch / "tasks", options.tasks)
        with Mock("--answers", str(scratch / "answers.json")) as mock:
            alone = harbor_alone(scratch / "tasks", mock, options.workers, scratch)
            ours = plugin(tasks, mock, options.workers, scratch)
    print(f"{options.tasks} tasks, {options.workers} at once (default here: {default_workers()})")
    print(f"Harbor alone: {alone:6.1f} s  ({alone / options.tasks:5.2f} s per task, "
          f"{60 * options.tasks / alone:5.1f} tasks/min)")
    print(f"plugin:       {ours:6.1f} s  ({ours / options.tasks:5.2f} s per task, "
          f"{60 * options.tasks / ours:5.1f} tasks/min)")
    print(f"plugin / Harbor alone: {ours / alone:.2f}; overhead per task: {(ours - alone) / options.tasks:+.2f} s")


if __name__ == "__main__":
    main()
