"""Bad input: one clear line, exit status != 0, no traceback, no half-written results."""

from __future__ import annotations

import pytest

CASES = [
    (["--threshold", "mmlu_pro.accuracy=>0.7"], "--threshold 'mmlu_pro.accuracy=>0.7': expected BENCH.METRIC>=VALUE*"),
    (["--threshold", "mmlu_pro.accuracy>=78"], "*metric values are fractions in [[]0, 1[]]; did you mean 0.78?"),
    (["--threshold", "mmlu_prox.accuracy>=0.7"], "unknown benchmark 'mmlu_prox' in --threshold/recipe threshold (known: mmlu_pro)"),
    (["--limit-samples", "0"], "--limit-samples must be at least 1, got 0"),
    (["--limit-samples", "-3"], "--limit-samples must be at least 1, got -3"),
    (["--parallelism", "0"], "--parallelism must be at least 1, got 0"),
    (["--parallelism", "many"], "--parallelism must be a whole number, got 'many'"),
    (["--request-timeout", "0"], "--request-timeout must be more than 0, got 0.0"),
    (["--max-error-rate", "1.5"], "--max-error-rate must be a fraction in [[]0, 1[]] (0.01 = 1%), got '1.5'"),
    (["--max-error-rate", "-0.1"], "--max-error-rate must be a fraction in [[]0, 1[]] (0.01 = 1%), got '-0.1'"),
    (["--max-error-rate", "1%"], "--max-error-rate must be a fraction in [[]0, 1[]] (0.01 = 1%), got '1%'"),
    (["--set", "max_error_rate=2"], "--max-error-rate must be a fraction in [[]0, 1[]] (0.01 = 1%), got 2"),
    (["--recipe", "missing.yaml"], "--recipe missing.yaml: no such file"),
    (["--recipe", "typo.yaml"], "recipe typo.yaml: unknown key 'paralelism' (known: *parallelism*)"),
    (["--recipe", "broken.yaml"], "recipe broken.yaml line *: not valid YAML*"),
    (["--recipe", "unknown_bench.yaml"], "unknown benchmark 'gpqa_x' in recipe benchmarks (known: mmlu_pro)"),
    (["--set", "generation.temprature=0.5"], "--set: unknown key 'generation.temprature' (known: *temperature*)"),
    (["--set", "novalue"], "--set 'novalue': expected KEY=VALUE*"),
    (["--data-dir", "nowhere"], "mmlu_pro: --data-dir nowhere: no file nowhere/mmlu_pro.jsonl (one JSON object per line, in the schema of TIGER-Lab/MMLU-Pro*"),
    (["--data-dir", "corrupt"], "mmlu_pro: corrupt/mmlu_pro.jsonl line 3: not valid JSON*"),
    (["--data-dir", "missing_field"], "mmlu_pro: missing_field/mmlu_pro.jsonl line 2: missing field 'options'"),
    (["--endpoint", "http://127.0.0.1:9"], "--endpoint http://127.0.0.1:9 is not reachable: *; is the server up?"),
    (["--model", "no-such-model"], "--model no-such-model is not served by * (served: mock-model)"),
    (["--export", "sheets"], "--export sheets: unknown export target (known: mlflow, wandb, nemo-evaluator)"),
    (["--api-key-env", "NEMOEVAL_TEST_UNSET_KEY"], "--api-key-env NEMOEVAL_TEST_UNSET_KEY: the environment variable NEMOEVAL_TEST_UNSET_KEY is not set; export it first"),
]


@pytest.fixture
def files(bench: pytest.Pytester) -> pytest.Pytester:
    path = bench.path
    (path / "typo.yaml").write_text("paralelism: 8\n")
    (path / "broken.yaml").write_text("generation: {temperature: 0.6\nbenchmarks: [\n")
    (path / "unknown_bench.yaml").write_text("benchmarks:\n  gpqa_x: {repeats: 2}\n")
    good = (path / "data" / "mmlu_pro.jsonl").read_text().splitlines()
    (path / "corrupt").mkdir()
    (path / "corrupt" / "mmlu_pro.jsonl").write_text("\n".join(good[:2] + ['{"question_id": 3, "quest'] + good[3:]))
    (path / "missing_field").mkdir()
    (path / "missing_field" / "mmlu_pro.jsonl").write_text(good[0] + "\n" + good[1].replace('"options"', '"opts"'))
    return bench


# under xdist the checks run in the controller (endpoint, options) or in the workers (data, names)
XDIST_CASES = [case for case in CASES if case[0][0] in ("--data-dir", "--endpoint", "--api-key-env")
               or "mmlu_prox" in case[0][1] or "unknown_bench.yaml" in case[0]]


@pytest.mark.parametrize("args, message", CASES, ids=[" ".join(args) for args, _ in CASES])
def test_bad_input_gives_one_clear_line(files, mock_server, monkeypatch, args, message):
    monkeypatch.delenv("NEMOEVAL_TEST_UNSET_KEY", raising=False)
    check_one_clear_line(files, mock_server(), args, message, [])


@pytest.mark.parametrize("args, message", XDIST_CASES, ids=[" ".join(args) for args, _ in XDIST_CASES])
def test_bad_input_under_xdist_gives_the_same_line(files, mock_server, monkeypatch, args, message):
    monkeypatch.delenv("NEMOEVAL_TEST_UNSET_KEY", raising=False)
    check_one_clear_line(files, mock_server(), args, message, ["-n", "2"])


def check_one_clear_line(files, mock, args, message, xdist):
    base = ["suites/", "--data-dir", "data", "--endpoint", mock.url, *xdist]
    result = files.runpytest_subprocess(*base, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1, result.stderr.lines
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert not (files.path / "results" / "results.json").exists()
    assert mock.chat_requests() == 0

