"""Time and peak memory to generate RULER prompts, per task and length, with a real tokenizer.

    python benchmarks/ruler.py [--endpoint URL] [--tasks fwe niah_single_1] [--lengths 131072 1048576] [--samples 1]

Each (task, length) is generated in a child process of its own (`generated()`: the packaged generator, then the
cache file), so its peak RSS is its own; the cache is a fresh temporary directory, so nothing is reused. The
tokenizer is the served model's /tokenize: without --endpoint, the embedded model's llama.cpp server (SmolLM2's
GGUF BPE tokenizer, C++), started here. Prints seconds, peak RSS, tokenizer calls and the ratio of the peak to
the prompts' own size (what holding them would cost).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CHILD = """
import json, os, resource, sys, time
from pytest_nemoeval.tasks import ruler
task, length, samples, url, model = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
tokenizer = ruler.ServerTokenizer(url, model)
started = time.monotonic()
path = ruler.generated(task, length, samples, tokenizer)
seconds = time.monotonic() - started
print(json.dumps({"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "calls": tokenizer.requests, "file_mb": os.path.getsize(path) / 2**20}))
"""


def embedded_server() -> tuple[subprocess.Popen[bytes], str]:
    from pytest_nemoeval.servers.embedded import MODEL, gguf_path
    from pytest_nemoeval.servers.process import free_port

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "pytest_nemoeval.servers.llama_server", "--model",
                                str(gguf_path()), "--alias", MODEL, "--port", str(port), "--ctx-per-slot", "512"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    import urllib.request

    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2).close()
            return process, f"{url}/v1"
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the embedded llama.cpp server did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", default=None, help="a vLLM or llama.cpp server (default: the embedded model)")
    parser.add_argument("--model", default="SmolLM2-135M-Instruct")
    parser.add_argument("--tasks", nargs="+", default=["fwe", "niah_single_1"])
    parser.add_argument("--lengths", nargs="+", type=int, default=[131072, 1048576])
    parser.add_argument("--samples", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per (task, length)")
    args = parser.parse_args()
    server, url = (None, args.endpoint) if args.endpoint else embedded_server()
    try:
        for length in args.lengths:
            for task in args.tasks:
                with tempfile.TemporaryDirectory() as cache:
                    try:
                        out = subprocess.run([sys.executable, "-c", CHILD, task, str(length), str(args.samples), url,
                                              args.model], capture_output=True, text=True, timeout=args.timeout,
                                             env={**__import__("os").environ, "XDG_CACHE_HOME": cache})
                    except subprocess.TimeoutExpired:
                        print(f"{task} at {length} tokens: not done within {args.timeout:g} s")
                        continue
                if out.returncode:
                    print(f"{task} at {length} tokens: failed: {out.stderr.strip().splitlines()[-1:]}")
                    continue
                found = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"{task} at {length} tokens, {args.samples} sample(s): {found['seconds']:.1f} s, peak RSS "
                      f"{found['peak_mb']:.0f} MB ({found['peak_mb'] / max(found['file_mb'], 1e-9):.1f} x the "
                      f"{found['file_mb']:.1f} MB of prompts), {found['calls']} tokenizer calls", flush=True)
    finally:
        if server is not None:
            server.kill()
    print(f"(this process: peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
