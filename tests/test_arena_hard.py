"""Arena-Hard v2: the judge prompts, the verdict regex, the win rate and its interval, and the suite end to end
against scripted model and judge servers (verdicts in both orders, scores computed by hand)."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from helpers import ROOT, copy_suites, results, samples
from pytest_nemoeval import DataError
from pytest_nemoeval.metrics import SampleOutcome
from pytest_nemoeval.tasks.arena_hard import JUDGE_SYSTEM, check_category, join_baselines, judge_requests, judge_verdict
from pytest_nemoeval.tasks.arena_hard import score


# NVIDIA-NeMo/Skills nemo_skills/evaluation/metrics/arena_metrics.py ArenaMetrics._get_judge_score, the oracle
def reference_judge_score(judgment):
    pattern = re.compile(r"\[\[([AB<>=]+)\]\]")
    matches = pattern.findall(judgment)
    matches = [m for m in matches if m != ""]
    if len(set(matches)) == 0:
        return None
    elif len(set(matches)) == 1:
        return matches[0].strip("\n")
    else:
        return None


JUDGEMENTS = ["My final verdict is tie: [[A=B]]", "[[A>>B]] ... so again [[A>>B]]", "[[A>B]] but then [[B>A]]",
              "no label at all", "[[A<<B]]", "[A>B]", "[[ A>B ]]", "", "Assistant B is better: [[B>>A]]."]


@pytest.mark.parametrize("judgement", JUDGEMENTS)
def test_verdict_as_nemo_skills_reads_it(judgement):
    assert judge_verdict(judgement) == reference_judge_score(judgement)


def test_judge_prompt_of_a_hard_prompt_row_is_the_published_one():
    sample = {"category": "hard_prompt", "question": "What is 2+2?", "baseline_answer": "4."}
    gen_base, base_gen = judge_requests(sample, "Four.")
    system = gen_base[0]["content"]
    assert system.startswith("Please act as an impartial judge and evaluate the quality of the responses provided "
                             "by two AI assistants to the user prompt displayed below.")
    assert "\n\nBegin your evaluation by generating your own answer to the prompt. You must provide your answers " \
           "before judging any answers.\n\n" in system
    assert system.endswith('5. Assistant B is significantly better: [[B>>A]]\n\nExample output: "My final verdict '
                           'is tie: [[A=B]]".') and len(system) == 1729
    assert gen_base[1] == {"role": "user", "content": (
        "<|User Prompt|>\nWhat is 2+2?\n\n<|The Start of Assistant A's Answer|>\nFour.\n<|The End of Assistant A's "
        "Answer|>\n\n<|The Start of Assistant B's Answer|>\n4.\n<|The End of Assistant B's Answer|>")}
    assert base_gen[1]["content"] == gen_base[1]["content"].replace("Four.", "@").replace("\n4.\n", "\nFour.\n") \
        .replace("@", "4.")
    assert base_gen[0] == gen_base[0]


def test_creative_writing_prompt_does_not_ask_for_the_judges_own_answer():
    creative = JUDGE_SYSTEM["creative_writing"]
    assert "generating your own answer" not in creative and len(creative) == 1586
    assert creative.replace("compare both assistants' answers.", "") == JUDGE_SYSTEM["hard_prompt"].replace(
        "Begin your evaluation by generating your own answer to the prompt. You must provide your answers before "
        "judging any answers.\n\n", "").replace("compare both assistants' answers with your answer.", "")


def test_rows_take_their_categorys_baseline_answer():
    questions = [{"uid": "a", "category": "hard_prompt", "prompt": "Q"},
                 {"uid": "a", "category": "creative_writing", "prompt": "Q"}]
    answers = {"hard_prompt": {"a": "o3-mini's"}, "creative_writing": {"a": "gemini's"}}
    joined = join_baselines(questions, answers)
    assert [(row["question"], row["baseline_answer"]) for row in joined] == [("Q", "o3-mini's"), ("Q", "gemini's")]
    with pytest.raises(DataError, match="no baseline answer"):
        join_baselines([{"uid": "b", "category": "hard_prompt", "prompt": "Q"}], answers)
    with pytest.raises(DataError, match="category 'math' has no judge prompt"):
        check_category({"uid": "c", "category": "math"}, {})


def test_battles_and_win_rate_by_hand():
    # (A>>B, B>A): the model wins 3 + 1; (A=B, A>B): a tie, a loss; (B>>A, none): 3 losses, one invalid
    games = [("A>>B", "B>A"), ("A=B", "A>B"), ("B>>A", None)]
    outcomes, invalid = score.battles(games)
    assert outcomes == [1.0] * 4 + [0.5, 0.0] + [0.0] * 3 and invalid == 1
    summary = score.win_rate(games)
    assert summary["value"] == pytest.approx(4.5 / 9) and summary["invalid_scores"] == 1 and summary["battles"] == 9
    low, high = summary["ci95"]
    assert 0.0 < low < 4.5 / 9 < high < 1.0
    assert score.win_rate([("A>>B", "B>>A")])["ci95"] == pytest.approx([1.0, 1.0])  # every battle won
    assert score.win_rate([(None, "X")]) == {"value": 0.0, "ci95": [0.0, 0.0], "battles": 0, "invalid_scores": 2}


def test_an_errored_item_is_a_significant_loss_in_both_games():
    won = SampleOutcome(0, [True], ["A>>B/B>>A"], [{"category": "hard_prompt", "games": ["A>>B", "B>>A"]}])
    failed = SampleOutcome(1, [False], [None], [{"category": "hard_prompt"}], errors=["judge request failed"])
    metric = score.metrics([won, failed], 1)
    assert metric["win_rate"]["value"] == pytest.approx(0.5) and metric["win_rate"]["battles"] == 12
    assert "win_rate_hard_prompt" not in metric  # one category: the overall score only, as NeMo Skills
    assert metric["judge_unparseable"] == {"value": 0.0, "count": 0, "of": 4}


TEST_ROWS = [  # 2 hard prompts, 2 creative writing; model answer MODEL-i, baseline answer BASE-i
    {"uid": f"u{i}", "category": category, "subcategory": "x", "question": f"QUESTION-{i}",
     "baseline_answer": f"BASE-{i}"}
    for i, category in enumerate(["hard_prompt", "hard_prompt", "creative_writing", "creative_writing"], start=1)]
# the judge's verdicts: gen-base (model as A), base-gen (model as B)
VERDICTS = {1: ("[[A>>B]]", "[[B>A]]"), 2: ("[[A=B]]", "[[A>B]]"), 3: ("[[B>>A]]", "I cannot decide."),
            4: ("[[A>B]]", "[[A=B]]")}


@pytest.fixture
def arena(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    copy_suites(pytester, "arena_hard_v2")
    (pytester.path / "data").mkdir()
    (pytester.path / "data" / "arena_hard_v2.jsonl").write_text("".join(json.dumps(row) + "\n" for row in TEST_ROWS))
    model_rules = [[f"QUESTION-{i}", f"MODEL-{i}"] for i in VERDICTS]
    judge_rules = [[f"A's Answer|>\nMODEL-{i}\n", f"My verdict: {first}"] for i, (first, _) in VERDICTS.items()]
    judge_rules += [[f"B's Answer|>\nMODEL-{i}\n", f"My verdict: {second}"] for i, (_, second) in VERDICTS.items()]
    (pytester.path / "model.json").write_text(json.dumps(model_rules))
    (pytester.path / "judge.json").write_text(json.dumps(judge_rules))
    monkeypatch.setenv("JUDGE_API_KEY", "judge-secret-789")
    return pytester


def run(arena: pytest.Pytester, mock_server, model_args: tuple[str, ...] = (), *args: str):
    model = mock_server("--answers", str(arena.path / "model.json"), *model_args)
    judge = mock_server("--answers", str(arena.path / "judge.json"), "--answer", "no rule matched")
    result = arena.runpytest_subprocess("suites/test_arena_hard_v2.py", "--endpoint", model.url, "--judge-endpoint",
                                        judge.url, "--judge-model", "mock-model", "--data-dir", "data", *args)
    return result, model, judge


def test_win_rate_against_the_baseline_by_hand(arena, mock_server):
    # battles: u1 3+1 wins; u2 a tie, a loss; u3 3 losses, base-gen unparseable (left out); u4 a win, a tie
    # overall (5 + 2/2) / 11; hard_prompt (4 + 1/2) / 6; creative_writing (1 + 1/2) / 5
    result, model, judge = run(arena, mock_server)
    assert (model.chat_requests(), judge.chat_requests()) == (4, 8)  # both orders for every answer
    entry = results(arena)["benchmarks"]["arena_hard_v2"]
    assert entry["primary_metric"] == "win_rate"
    values = {name: metric["value"] for name, metric in entry["metrics"].items()}
    assert values["win_rate"] == pytest.approx(6 / 11, abs=1e-6)
    assert values["win_rate_hard_prompt"] == pytest.approx(0.75, abs=1e-6)
    assert values["win_rate_creative_writing"] == pytest.approx(0.3, abs=1e-6)
    assert entry["metrics"]["judge_unparseable"] == {"value": 0.125, "count": 1, "of": 8}
    assert entry["metrics"]["win_rate"]["invalid_scores"] == 1 and entry["metrics"]["win_rate"]["battles"] == 11
    rows = {row["sample_id"]: row for row in samples(arena, "arena_hard_v2")}
    assert rows["u3"]["extracted"] == "B>>A/None" and rows["u1"]["verdict"] == "correct"
    assert "judge-secret-789" not in result.stdout.str() + result.stderr.str()


def test_a_failed_generation_is_a_loss_not_a_gap(arena, mock_server):
    # u1's generation fails (500 after retries): its games count as the baseline's significant wins,
    # so the overall drops from 6/11 to (1 + 2/2) / 13 instead of leaving u1 out
    result, model, judge = run(arena, mock_server, ("--fail-prompt", "QUESTION-1"), "--max-retries", "0")
    entry = results(arena)["benchmarks"]["arena_hard_v2"]
    assert entry["errors"] == 1 and judge.chat_requests() == 6
    assert entry["metrics"]["win_rate"]["value"] == pytest.approx(2 / 13, abs=1e-6)


def test_the_hub_files_are_joined_as_prepare_py_does(monkeypatch):
    from pytest_nemoeval.tasks import arena_hard

    files = {"question.jsonl": [{"uid": "q1", "category": "hard_prompt", "subcategory": "math", "prompt": "P1"},
                                {"uid": "q2", "category": "creative_writing", "subcategory": "cw", "prompt": "P2"}],
             "o3-mini-2025-01-31.jsonl": [{"uid": uid, "messages": [{"role": "user", "content": "P"}, {
                 "role": "assistant", "content": {"answer": f"o3 {uid}"}}]} for uid in ("q1", "q2")],
             "gemini-2.0-flash-001.jsonl": [{"uid": "q2", "messages": [{"role": "assistant", "content": "gemini q2"}]}]}
    asked = []

    class Reply:
        def __init__(self, url):
            asked.append(url)
            self.text = "\n".join(json.dumps(row) for row in files[url.rsplit("/", 1)[1]]) + "\n"

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            return self.text.encode()

    monkeypatch.setattr(arena_hard.urllib.request, "urlopen", lambda url, timeout: Reply(url))
    rows = arena_hard.ArenaHardFiles(revision="abc123").load(None)
    assert [(row["uid"], row["question"], row["baseline_answer"]) for row in rows] == [
        ("q1", "P1", "o3 q1"), ("q2", "P2", "gemini q2")]
    assert all(url.startswith("https://raw.githubusercontent.com/lmarena/arena-hard-auto/abc123/data/arena-hard-v2.0/")
               for url in asked)

    def refused(url, timeout):
        raise OSError("connection refused")

    monkeypatch.setattr(arena_hard.urllib.request, "urlopen", refused)
    with pytest.raises(DataError, match=r"could not download https://raw\.githubusercontent\.com/.*connection refused"):
        arena_hard.ArenaHardFiles().load(None)


def test_each_judged_suite_asks_for_its_published_judge_unless_the_run_names_one(arena, mock_server):
    """HLE's judge is gpt-4o, Arena-Hard v2's gpt-4.1, in one run on one judge endpoint; --judge-model, or a
    recipe's benchmarks.<name>.judge_model, names another."""
    shutil.copy(ROOT / "suites" / "test_hle.py", arena.path / "suites")
    shutil.copy(ROOT / "examples" / "data" / "hle.jsonl", arena.path / "data")
    model = mock_server("--answers", str(arena.path / "model.json"))

    def judged(*args: str) -> dict[str, int]:
        judge = mock_server("--models", "gpt-4o,gpt-4.1,other", "--answer", "[[A=B]] Judgement: yes")
        result = arena.runpytest_subprocess("suites/", "--endpoint", model.url, "--judge-endpoint", judge.url,
                                            "--data-dir", "data", "--limit-samples", "1", "--repeats", "1", "--no-cache", *args)
        assert result.ret in (0, 1), result.stdout.str() + result.stderr.str()
        return judge.stats()["models"]

    assert judged() == {"gpt-4.1": 2, "gpt-4o": 1}  # arena: both orders; hle: one judgement
    assert judged("--judge-model", "other") == {"other": 3}
    (arena.path / "recipe.yaml").write_text("benchmarks:\n  arena_hard_v2: {judge_model: other}\n  hle:\n")
    assert judged("--recipe", "recipe.yaml") == {"other": 2, "gpt-4o": 1}
