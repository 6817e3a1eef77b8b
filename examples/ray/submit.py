"""One evaluation split over Ray jobs: N jobs each serve the model (--deploy vllm, one GPU node each) and run
their part of the items (--shard K/N); then one job merges their results directories.

    python examples/ray/submit.py --address http://head:8265 --jobs 8 [--run results/r1] [-- pytest args...]

Every node sees this checkout at the same path and the run directory (a shared file system): each job starts
there, with no upload. A job that failed is resubmitted alone
(`--only K`): its results dir keeps the response cache, so it sends only what it lacked; then `--merge-only`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import time

DEFAULT_ARGS = "--recipe recipes/nemotron_3_super.yaml --deploy vllm"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", default="http://127.0.0.1:8265", help="the Ray dashboard of the cluster")
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--run", default=f"results/nemoeval-{time.strftime('%Y%m%d-%H%M%S')}")
    parser.add_argument("--gpus", type=float, default=8, help="GPUs of each job (its vLLM server's)")
    parser.add_argument("--only", type=int, action="append", help="submit only part K (repeatable)")
    parser.add_argument("--merge-only", action="store_true")
    parser.add_argument("pytest_args", nargs="*", help=f"after --: the run's arguments (default: {DEFAULT_ARGS})")
    args = parser.parse_args()

    from ray.job_submission import JobStatus, JobSubmissionClient

    client = JobSubmissionClient(args.address)
    here, run = shlex.quote(os.getcwd()), shlex.quote(os.path.abspath(args.run))
    run_args = shlex.join(args.pytest_args) if args.pytest_args else DEFAULT_ARGS
    submitted = []
    for part in ([] if args.merge_only else (args.only or range(1, args.jobs + 1))):
        submitted.append(client.submit_job(
            entrypoint=f"cd {here} && python -m pytest suites/ {run_args} --shard {part}/{args.jobs} "
                       f"--results-dir {run}/shard-{part}",
            entrypoint_num_gpus=args.gpus,
            submission_id=f"nemoeval-{args.run.replace('/', '-')}-{part}-of-{args.jobs}-{int(time.time())}"))
    finished = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED}
    while any(client.get_job_status(job) not in finished for job in submitted):
        time.sleep(30)
    for job in submitted:  # pytest's exit status 1 (a gate, an errored item) still leaves a complete part
        print(job, client.get_job_status(job))
    merge = client.submit_job(entrypoint=f"cd {here} && python -m pytest_nemoeval merge {run}/shard-* "
                                         f"--into {run}/merged")
    while client.get_job_status(merge) not in finished:
        time.sleep(5)
    print(client.get_job_logs(merge))


if __name__ == "__main__":
    main()
