"""Terminal-Bench Hard: the 47 hard tasks of Terminal-Bench v1 that the leaderboard reports, in containers,
solved by the Terminus-2 agent and checked by each task's own tests.

Harness: Harbor, as NeMo Evaluator 0.3's `terminal-bench-hard` (nemo_evaluator/benchmarks/terminal_bench_hard.py):
Terminal-Bench v1's repository (original-tasks/) mapped to Harbor's task format by Harbor's TerminalBenchMapper,
kept to the 47 tasks below (that file's list); agent terminus-2 with the tasks' own timeouts.
Metric: pass@1, the share of trials whose tests all passed, by category.
"""

from pytest_nemoeval.tasks import harbor
from pytest_nemoeval.tasks.harbor.datasets import HarborDataset

TASKS = (
    "aimo-airline-departures", "blind-maze-explorer-5x5", "cartpole-rl-training", "causal-inference-r",
    "chem-property-targeting", "chem-rf", "circuit-fibsqrt", "cobol-modernization", "configure-git-webserver",
    "cross-entropy-method", "extract-moves-from-video", "feal-differential-cryptanalysis",
    "feal-linear-cryptanalysis", "form-filling", "git-multibranch", "gpt2-codegolf", "install-windows-3.11",
    "install-windows-xp", "lean4-proof", "make-doom-for-mips", "make-mips-interpreter", "mcmc-sampling-stan",
    "model-extraction-relu-logits", "movie-helper", "neuron-to-jaxley-conversion", "oom",
    "organization-json-generator", "parallel-particle-simulator", "parallelize-graph", "password-recovery",
    "path-tracing", "path-tracing-reverse", "play-zork", "play-zork-easy", "polyglot-rust-c", "prove-plus-comm",
    "pytorch-model-cli", "rare-mineral-allocation", "recover-obfuscated-files", "reverse-engineering",
    "run-pdp11-code", "stable-parallel-kmeans", "swe-bench-astropy-1", "swe-bench-astropy-2", "train-fasttext",
    "word2vec-from-scratch", "write-compressor",
)

PUBLISHED = {"agent": "terminus-2"}


async def trial(sample, chat):
    return await harbor.run_trial(sample, chat, PUBLISHED)


suite = harbor.container_suite("terminal_bench_hard", HarborDataset("terminal-bench-v1", only=TASKS), PUBLISHED,
                               trial)


def test_terminal_bench_hard(sample, response, verdict):
    harbor.score(sample, response, verdict)
