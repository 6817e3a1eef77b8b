"""MATH-500 (AA) and AA-Omniscience on scripted servers: scores computed by hand, which grader decided each
MATH-500 item, the omniscience index and hallucination rate and their intervals."""

from __future__ import annotations

import json

import pytest

from helpers import copy_suites, results, samples
from pytest_nemoeval.metrics import SampleOutcome
from pytest_nemoeval.tasks import math500_aa, omniscience


def script(pytester: pytest.Pytester, name: str, rules: list[list[str]]) -> str:
    path = pytester.path / f"{name}.json"
    path.write_text(json.dumps(rules))
    return str(path)


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    copy_suites(pytester, "math500_aa", "omniscience")
    (pytester.path / "data").mkdir()
    monkeypatch.setenv("JUDGE_API_KEY", "judge-secret-789")
    return pytester


def run(pytester: pytest.Pytester, model, judge, name: str, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("suites/", "-k", name, "--endpoint", model.url, "--judge-endpoint",
                                         judge.url, "--judge-model", "mock-model", "--data-dir", "data", *args)


def write_rows(pytester: pytest.Pytester, name: str, rows: list[dict]) -> None:
    (pytester.path / "data" / f"{name}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))


MATH_ROWS = [{"problem": "What is $\\frac{1}{2} + \\frac{1}{4}$?", "answer": "\\frac{3}{4}", "unique_id": "a"},
             {"problem": "Solve for $x$: $3x + 5 = 20$.", "answer": "5", "unique_id": "b"},
             {"problem": "What is the area of a square with side 7?", "answer": "49", "unique_id": "c"},
             {"problem": "What is $2 + 2$?", "answer": "4", "unique_id": "d"}]


def test_math500_aa_sympy_decides_first_the_judge_only_when_sympy_does_not_and_unboxed_is_wrong(
        project, mock_server):
    write_rows(project, "math500_aa", MATH_ROWS)
    model = mock_server("--answers", script(project, "model", [
        ["frac{1}{2}", "Adding: \\boxed{0.75}"],          # sympy: 0.75 == 3/4
        ["3x + 5", "So x is \\boxed{five}."],            # sympy cannot tell: the judge says yes
        ["side 7", "The area is 49."],                   # no \boxed{}: wrong, nobody asked
        ["2 + 2", "\\boxed{4} no wait \\boxed{IV}"]]))   # the last box; sympy cannot tell: the judge says no
    judge = mock_server("--answers", script(project, "judge", [["Expression 2: five", "Yes"],
                                                               ["Expression 2: IV", " no "]]))
    result = run(project, model, judge, "math500_aa", "--repeats", "2")
    assert result.ret == 0, result.stdout.str()
    # 4 problems x 2 repeats sent to the model; the judge asked for "five" and "IV" only, once per repeat
    assert model.chat_requests() == 8 and judge.chat_requests() == 4
    rows = {(row["sample_id"], row["repeat"]): row for row in samples(project, "math500_aa")}
    assert [rows[(sid, 1)]["decided_by"] for sid in "abcd"] == ["sympy", "judge", "none", "judge"]
    assert [rows[(sid, 1)]["extracted"] for sid in "abcd"] == ["0.75", "five", None, "IV"]
    assert [rows[(sid, 1)]["correct"] for sid in "abcd"] == [True, True, False, False]
    assert rows[("d", 0)]["judge"] == " no "
    metrics = results(project)["benchmarks"]["math500_aa"]["metrics"]
    assert metrics["pass@1"]["value"] == pytest.approx(2 / 4)
    assert metrics["decided_by_sympy"]["value"] == pytest.approx(1 / 4)
    assert metrics["decided_by_judge"]["value"] == pytest.approx(2 / 4)
    assert metrics["no_answer"]["value"] == pytest.approx(1 / 4)


def test_math500_aa_prompt_and_judge_settings_are_the_harness_files():
    # the template file writes \\boxed{{}}: str.format leaves both backslashes, and so the harness sends them
    assert math500_aa.prompt({"problem": "Compute 1+1."}) == (
        "Solve the following math problem step by step. Put your answer inside \\\\boxed{}.\n\nCompute 1+1.\n\n"
        "Remember to put your answer inside \\\\boxed{}.")
    assert math500_aa.judge_options() == {"temperature": 0.0, "top_p": 0.0001, "max_new_tokens": 512}
    # the harness's regex runs to the last closing brace after the last \boxed{
    assert math500_aa.extract("\\boxed{1} then \\boxed{\\frac{2}{3}}.") == "\\frac{2}{3}"
    assert math500_aa.extract("no box") == ""


OMNI_ROWS = [{"question_id": i, "domain": "Health", "topic": "Anatomy", "question": f"question-{i}?",
              "answer": f"gold-{i}"} for i in range(5)]


def test_omniscience_index_and_hallucination_rate_by_hand(project, mock_server):
    write_rows(project, "omniscience", OMNI_ROWS)
    model = mock_server("--answers", script(project, "model", [[f"question-{i}?", f"reply-{i}"] for i in range(5)]))
    grades = ["A", " a\n", "B", "C", "D"]  # letters as the judge gives them (whitespace and case tolerated)
    judge = mock_server("--answers", script(project, "judge", [[f"Predicted answer: reply-{i}\n", grades[i]]
                                                                for i in range(5)]))
    result = run(project, model, judge, "omniscience", "--repeats", "1")
    assert result.ret == 0, result.stdout.str()
    entry = results(project)["benchmarks"]["omniscience"]
    metrics = entry["metrics"]
    assert metrics["accuracy"]["value"] == pytest.approx(2 / 5)
    assert metrics["omniscience_index"]["value"] == pytest.approx((2 - 1) / 5)
    assert metrics["hallucination_rate"]["value"] == pytest.approx(1 / 3)
    assert metrics["judge_unparseable"]["count"] == 0
    assert [row["grade"] for row in samples(project, "omniscience")] == \
        ["correct", "correct", "incorrect", "partial", "not_attempted"]
    assert entry["categories"]["by"]["Health"]["metrics"]["accuracy"]["value"] == pytest.approx(2 / 5)


def test_omniscience_prompt_is_nemo_skills_eval_aai_omni():
    messages = omniscience.prompt({"domain": "Law", "topic": "Torts", "question": "Q?"})
    assert messages[0]["content"].startswith("You are answering questions about Law, and in particular Torts. ")
    assert messages[1] == {"role": "user", "content": "Q?"}
    judge = omniscience.judge_messages("Q?", "gold", "pred")[0]["content"]
    assert "Question: Q?\nGold target: gold\nPredicted answer: pred\n\n\nGrade the predicted" in judge
    assert judge.endswith('Just return the letters "A", "B", "C", or "D", with no text around it. ')


def outcome(index: int, grades: list[str | None], errors: list[str | None] | None = None) -> SampleOutcome:
    return SampleOutcome(index, [grade == "A" for grade in grades], grades, [{"grade": grade} for grade in grades],
                         errors or [])


def test_omniscience_formulas_with_errors_unparseable_replies_and_a_negative_index():
    outcomes = [outcome(0, ["A", "B"]), outcome(1, ["C", None]), outcome(2, ["D", "A"], [None, "timeout"])]
    # grades: A B | C (unparseable) | D B(error): A=1 B=2 C=1 D=1, graded 5
    metrics = omniscience.metrics(outcomes, 2)
    assert metrics["omniscience_index"]["value"] == pytest.approx((1 - 2) / 5)
    assert metrics["hallucination_rate"]["value"] == pytest.approx(2 / 4)
    assert metrics["judge_unparseable"] == {"value": pytest.approx(1 / 6), "count": 1}
    low, high = metrics["omniscience_index"]["ci95"]
    assert -1.0 <= low < -0.2 < high <= 1.0
    worst = omniscience.metrics([outcome(i, ["B"]) for i in range(3)], 1)["omniscience_index"]
    assert worst["value"] == -1.0 and worst["ci95"] == [-1.0, -1.0]


@pytest.mark.parametrize("reply, grade", [("A", "A"), ("  d \n", "D"), ("<think>hmm</think>C", "C"),
                                          ("The answer is A", None), ("", None), (None, None)])
def test_omniscience_judge_letter(reply, grade):
    assert omniscience.parse_grade(reply) == grade


def test_math500_aa_without_the_harness_is_one_line_before_any_request(project, mock_server):
    write_rows(project, "math500_aa", MATH_ROWS)
    (project.path / "conftest.py").write_text("import sys\nsys.modules['simple_evals'] = None\n")
    server = mock_server()
    result = run(project, server, server, "math500_aa")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: math500_aa needs the package simple_evals: "
                                 "pip install 'pytest-nemoeval[math500]'"])
    assert server.chat_requests() == 0
    # a run that leaves it out (-k) is not stopped by it
    write_rows(project, "omniscience", OMNI_ROWS)
    assert run(project, server, server, "omniscience", "--collect-only").ret == 0
