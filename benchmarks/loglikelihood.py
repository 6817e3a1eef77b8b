"""Teacher forcing on llama.cpp: HellaSwag items/s with each sample's requests pinned to one slot, and without.

    python benchmarks/loglikelihood.py [--items 12] [--rounds 2] [--slots 4]

Each run gets a fresh embedded llama.cpp server (SmolLM2-135M, the plugin's own launcher: no prompt cache left
by an earlier run) and scores the same HellaSwag rows of examples/data (10-shot, 4 endings: one request per
ending token) with --no-cache; the wall time is pytest's, the server started before it.
Pinned, a sample's prompts extend one another on one slot and llama.cpp evaluates one new token per request;
unpinned (`generation.pin_slots=false`, `id_slot` -1) the server picks a slot by prompt similarity. Runs
alternate, round after round; each kind takes its best round. Prints items/s of both and their ratio.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import ROOT, check, run_pytest  # noqa: E402
from pytest_nemoeval.servers.embedded import MODEL, gguf_path  # noqa: E402
from pytest_nemoeval.servers.process import free_port  # noqa: E402


def start_server(slots: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "pytest_nemoeval.servers.llama_server", "--model",
                                str(gguf_path()), "--alias", MODEL, "--port", str(port), "--parallel", str(slots),
                                "--ctx-per-slot", "4096"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit("the embedded llama.cpp server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--slots", type=int, default=4)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="nemoeval-bench-ll-"))
    try:
        (directory / "suites").mkdir()
        shutil.copy(ROOT / "suites" / "test_hellaswag.py", directory / "suites")
        (directory / "data").mkdir()
        for name in ("hellaswag", "hellaswag.fewshot"):
            shutil.copy(ROOT / "examples" / "data" / f"{name}.jsonl", directory / "data")
        best: dict[str, float] = {}
        for _round in range(args.rounds):
            for kind, pin in (("pinned", "true"), ("unpinned", "false")):
                server, url = start_server(args.slots)
                try:
                    run = check(run_pytest(directory, "suites/", "--endpoint", url, "--data-dir", "data",
                                           "--no-cache", "--limit-samples", str(args.items), "--parallelism",
                                           str(args.slots), "--set", f"generation.pin_slots={pin}", "-q"))
                finally:
                    server.kill()
                    server.wait()
                if run.returncode != 0:
                    raise SystemExit(run.output[-2000:])
                best[kind] = min(best.get(kind, float("inf")), run.wall)
        pinned, unpinned = args.items / best["pinned"], args.items / best["unpinned"]
        print(f"HellaSwag 10-shot, {args.items} items, {args.slots} slots, SmolLM2-135M Q4_1 on llama.cpp")
        print(f"pinned:   {pinned:.3f} items/s ({best['pinned']:.1f} s)")
        print(f"unpinned: {unpinned:.3f} items/s ({best['unpinned']:.1f} s)")
        print(f"pinned / unpinned throughput: {pinned / unpinned:.2f}x")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
