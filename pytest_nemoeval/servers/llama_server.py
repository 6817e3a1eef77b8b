"""Child process of the embedded model: llama.cpp's HTTP server through xllamacpp.

Run as `python -m pytest_nemoeval.servers.llama_server --model FILE --port N ...`; it serves until killed and
dies with its parent (PR_SET_PDEATHSIG), so a crashed pytest never leaves it behind.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from pytest_nemoeval.servers.lifecycle import die_with_parent

# The embedded model's chat template: SmolLM2's own plus tool calls that llama.cpp parses (see the file).
CHAT_TEMPLATE = Path(__file__).with_name("smollm2_tools.jinja")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--alias", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--parallel", type=int, default=1)
    # SmolLM2's own context (8192): every suite's example prompt fits, a judge's prompt with a reply included
    parser.add_argument("--ctx-per-slot", type=int, default=8192)
    # a reply's length when a request sets none (a 135M model may loop until its context is full)
    parser.add_argument("--max-reply", type=int, default=-1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    die_with_parent()

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.model_alias = {args.alias}
    params.port = args.port
    params.n_parallel = args.parallel
    params.n_ctx = args.ctx_per_slot * args.parallel
    params.n_predict = args.max_reply
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.use_jinja = True
    params.chat_template = CHAT_TEMPLATE.read_text()
    server = xllamacpp.Server(params)  # serves from its own threads
    print(f"serving {args.alias} at {server.listening_address}", flush=True)
    # SIGTERM ends the process at once, in the kernel: a Python handler waits for the GIL (a busy generation
    # can hold it for seconds) and xllamacpp's teardown waits for running generations; nothing needs saving
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    threading.Event().wait()


if __name__ == "__main__":
    main()
