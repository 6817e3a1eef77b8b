"""GPQA-Diamond, AIME25, HMMT Feb 2025 and HLE end to end: real graders, data files in each hub schema,
scripted mock answers whose scores are computed by hand, and the embedded model as model and judge."""

from __future__ import annotations

import shutil

import pytest

from helpers import ROOT, copy_suites, results, samples
from pytest_nemoeval.tasks.hle import parse_judgement
from pytest_nemoeval.errors import DataError
from pytest_nemoeval.data import HubDataset

SUITES = ("gpqa", "aime25", "hmmt_feb25", "hle")
JUDGE_YES = "extracted_final_answer: 25\nReasoning: the same number\nJudgement: yes\nConfidence: 80"  # judge/hle
OFFICIAL_YES = '{"extracted_final_answer": "25", "reasoning": "the same number", "correct": "yes", "confidence": 80}'


@pytest.fixture
def reasoning(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    copy_suites(pytester, *SUITES)
    shutil.copytree(ROOT / "examples" / "data", pytester.path / "data")
    monkeypatch.setenv("JUDGE_API_KEY", "judge-secret-456")
    return pytester


def metrics(pytester: pytest.Pytester, name: str) -> dict[str, float]:
    return {key: value["value"] for key, value in results(pytester)["benchmarks"][name]["metrics"].items()}


def test_aime25_with_leading_zeros_think_traces_and_repeats(reasoning, mock_server):
    # repeat r answers 016+r ("016", "017", ...); the box inside the trace is never scored.
    # answers 70, 16, 117: only sample 1, repeat 0 is right; pass@2 = 1 - C(3,2)/C(4,2) = 1/2 for it;
    # majority@4: four different answers tie, so sample 1 scores the mean of their verdicts, 1/4 (NeMo Skills).
    server = mock_server("--answer", "<think>\\boxed{70}</think>So the answer is \\boxed{0{seed}}")
    result = reasoning.runpytest_subprocess("suites/test_aime25.py", "--endpoint", server.url, "--data-dir", "data",
                                            "--repeats", "4", "--set", "generation.seed=16")
    result.stdout.fnmatch_lines(["*11 incorrect, 1 correct*"])
    assert metrics(reasoning, "aime25") == pytest.approx({
        "accuracy": 1 / 12, "pass@1": 1 / 12, "pass@2": 1 / 6, "pass@4": 1 / 3, "majority@4": 1 / 12, "no_answer": 0.0,
        "error_rate": 0.0},
        abs=1e-6)  # results.json keeps 6 digits
    row = next(row for row in samples(reasoning, "aime25") if row["correct"])
    assert (row["sample_id"], row["extracted"], row["expected"]) == ("2", "016", "16")


def test_hmmt_feb25_expressions_and_no_answer(reasoning, mock_server):
    # \frac{1}{2} equals "\frac{1}{2}" and "0.5", not 103 nor \frac{\sqrt{2}}{2}: 2 of 4
    server = mock_server("--answer", "Thus $p = \\boxed{\\dfrac{1}{2}}$.")
    result = reasoning.runpytest_subprocess("suites/test_hmmt_feb25.py", "--endpoint", server.url,
                                            "--data-dir", "data", "--repeats", "1")
    result.stdout.fnmatch_lines(["*2 incorrect, 2 correct*"])
    assert metrics(reasoning, "hmmt_feb25")["accuracy"] == 0.5
    unboxed = mock_server("--answer", "The probability is 1/2.")
    reasoning.runpytest_subprocess("suites/test_hmmt_feb25.py", "--endpoint", unboxed.url, "--data-dir", "data",
                                   "--repeats", "1", "--no-cache")
    assert metrics(reasoning, "hmmt_feb25")["no_answer"] == 1.0


def test_gpqa_options_are_in_the_reference_order_on_every_run(reasoning, mock_server):
    # prepare.py's seeded stream puts the right option at C, A, B, D for the four example rows
    # (tests/test_fidelity.py derives them with prepare.py's own code): "B" is right once
    server = mock_server("--answer", "Reasoning.\nAnswer: B")
    result = reasoning.runpytest_subprocess("suites/test_gpqa.py", "--endpoint", server.url, "--data-dir", "data",
                                            "--repeats", "2")
    result.stdout.fnmatch_lines(["*6 incorrect, 2 correct*"])
    assert metrics(reasoning, "gpqa")["pass@1"] == 0.25 and metrics(reasoning, "gpqa")["majority@2"] == 0.25
    rows = sorted(samples(reasoning, "gpqa"), key=lambda row: (row["sample_id"], row["repeat"]))
    assert [row["expected"] for row in rows[::2]] == ["C", "A", "B", "D"]
    assert {row["extracted"] for row in rows} == {"B"}


def test_math_suites_without_math_verify_are_one_line_before_any_request(reasoning, mock_server):
    (reasoning.path / "conftest.py").write_text("import sys\nsys.modules['math_verify'] = None\n")
    server = mock_server()
    result = reasoning.runpytest_subprocess("suites/test_aime25.py", "--endpoint", server.url, "--data-dir", "data")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: aime25 needs the package math_verify: pip install 'pytest-nemoeval[math]'"])
    assert server.chat_requests() == 0


def test_gated_dataset_without_token_is_one_line(monkeypatch):
    import datasets

    def gated(*args, **kwargs):
        raise datasets.exceptions.DatasetNotFoundError(
            "Dataset 'Idavidrein/gpqa' is a gated dataset on the Hub. You must be authenticated to access it.")

    monkeypatch.setattr(datasets, "load_dataset", gated)
    with pytest.raises(DataError, match=r"^Idavidrein/gpqa is a gated dataset on the HF hub: accept its terms at "
                                        r"https://huggingface.co/datasets/Idavidrein/gpqa and export HF_TOKEN"):
        HubDataset("Idavidrein/gpqa", name="gpqa_diamond", split="train").load(None)


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["n0", "n2"])
def test_hle_is_judged_text_only_with_calibration(reasoning, mock_server, xdist):
    # 3 of the 4 example rows are text-only; the judge says yes at 80 % each: accuracy 1, calibration |0.8 - 1|
    model = mock_server("--answer", "Explanation: counted factors of 5.\nAnswer: 25\nConfidence: 80%")
    judge = mock_server("--answer", JUDGE_YES)
    result = reasoning.runpytest_subprocess("suites/test_hle.py", "--endpoint", model.url, "--judge-endpoint",
                                            judge.url, "--judge-model", "mock-model", "--data-dir", "data", *xdist)
    result.stdout.fnmatch_lines(["*3 correct*"])
    assert (model.chat_requests(), judge.chat_requests()) == (3, 3)
    assert metrics(reasoning, "hle")["accuracy"] == 1.0
    assert metrics(reasoning, "hle")["calibration_error"] == pytest.approx(0.2)
    row = min(samples(reasoning, "hle"), key=lambda row: row["sample_id"])
    assert (row["extracted"], row["expected"], row["judge"]) == ("25", "25", JUDGE_YES)


def test_hle_judgement_without_verdict_is_incorrect_and_counted(reasoning, mock_server):
    # NeMo Skills' is_correct_judgement grades a judgement without "Judgement: yes/no" as incorrect
    model, judge = mock_server("--answer", "Answer: 25"), mock_server("--answer", "Looks right to me.")
    result = reasoning.runpytest_subprocess("suites/test_hle.py", "--endpoint", model.url, "--judge-endpoint",
                                            judge.url, "--judge-model", "mock-model", "--data-dir", "data")
    result.stdout.fnmatch_lines(["*3 incorrect*"])
    entry = results(reasoning)["benchmarks"]["hle"]
    assert entry["errors"] == 0 and entry["metrics"]["accuracy"]["value"] == 0.0
    assert entry["metrics"]["judge_unparseable"]["value"] == 1.0 and entry["metrics"]["judge_unparseable"]["count"] == 3
    assert "judge-secret-456" not in result.stdout.str() + result.stderr.str()


def test_hle_official_judge_is_an_option(reasoning, mock_server):
    model = mock_server("--answer", "Explanation: counted factors of 5.\nAnswer: 25\nConfidence: 80%")
    judge, silent = mock_server("--answer", OFFICIAL_YES), mock_server("--answer", "Looks right to me.")
    official = ("--set", "benchmarks.hle.data.judge=official", "--judge-model", "mock-model", "--data-dir", "data")
    reasoning.runpytest_subprocess("suites/test_hle.py", "--endpoint", model.url, "--judge-endpoint", judge.url,
                                   "--judge-model", "mock-model", "--data-dir", "data")
    assert metrics(reasoning, "hle")["accuracy"] == 0.0  # JSON has no "Judgement:" for NeMo Skills' reading
    # the other judge is another verdict: the cached model replies are judged again, not the cached verdicts reused
    reasoning.runpytest_subprocess("suites/test_hle.py", "--endpoint", model.url, "--judge-endpoint", judge.url,
                                   *official)
    assert metrics(reasoning, "hle")["accuracy"] == 1.0
    assert model.chat_requests() == 3
    assert metrics(reasoning, "hle")["calibration_error"] == pytest.approx(0.2)
    result = reasoning.runpytest_subprocess("suites/test_hle.py", "--endpoint", model.url, "--judge-endpoint",
                                            silent.url, "--no-cache", *official)  # no structured verdict: an error
    result.stdout.fnmatch_lines(["*VerdictError: the judge's reply has no 'correct: yes/no' verdict*", "*3 failed*"])
    assert results(reasoning)["benchmarks"]["hle"]["errors"] == 3
    # the errors are wrong answers at confidence 100: accuracy 0, calibration error |1 - 0|
    assert metrics(reasoning, "hle") == {"accuracy": 0.0, "pass@1": 0.0, "no_answer": 1.0, "error_rate": 1.0,
                                         "calibration_error": 1.0}
    result.stdout.fnmatch_lines(["GATE FAILED: hle: 3 of 3 items errored (100.0% > 1.0%; format error 3), more than --max-error-rate "
                                 "allows; first error: *VerdictError: the judge's reply has no 'correct: yes/no'*"])
    assert "judge-secret-456" not in result.stdout.str() + result.stderr.str()
    bad = reasoning.runpytest_subprocess("suites/test_hle.py", "--endpoint", model.url, "--judge-endpoint",
                                         judge.url, "--set", "benchmarks.hle.data.judge=gpt", "--data-dir", "data")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["ERROR: *hle: unknown judge 'gpt' (known: nemo_skills, official)*"])


def test_hle_without_judge_key_is_one_line_before_any_request(reasoning, mock_server, monkeypatch):
    monkeypatch.delenv("JUDGE_API_KEY")
    model = mock_server()
    result = reasoning.runpytest_subprocess("suites/test_hle.py", "--endpoint", model.url, "--data-dir", "data")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: hle is graded by a judge model and the environment variable JUDGE_API_KEY "
                                 "is not set*"])
    assert model.chat_requests() == 0


def test_embedded_judge_needs_the_embedded_model(reasoning, mock_server):
    model = mock_server()
    result = reasoning.runpytest_subprocess("suites/test_hle.py", "--endpoint", model.url, "--judge-endpoint",
                                            "embedded", "--data-dir", "data")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --judge-endpoint embedded grades with the embedded model: drop --endpoint*"])
    assert model.chat_requests() == 0


def test_hle_on_the_embedded_model_judged_by_itself(reasoning):
    # free-text judgement (judge/hle) at temperature 0; the embedded model's reply cap bounds a looping judge
    result = reasoning.runpytest_subprocess("suites/test_hle.py", "--data-dir", "data",  # judge: embedded by default
                                            "--limit-samples", "1", "--set", "generation.max_new_tokens=16")
    entry = results(reasoning)["benchmarks"]["hle"]
    assert (entry["items"], entry["errors"], entry["context_overflow"]) == (1, 0, 0), result.stdout.str()
    row = samples(reasoning, "hle")[0]
    if row["judge"] is None:  # the model's answer was empty: nothing to judge, recorded as wrong
        assert row["correct"] is False
        return
    assert parse_judgement(row["judge"])["correct"] is row["correct"]  # the embedded judge's own verdict
    assert 0.0 <= entry["metrics"]["calibration_error"]["value"] <= 1.0
