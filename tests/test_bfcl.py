"""BFCL v3/v4: our verdicts against the official bfcl-eval grading path, the leaderboard scores, and runs
of the suites against the mock server (scripted tool calls)."""

from __future__ import annotations

import copy
import json
import os
import shutil

import pytest

from helpers import ROOT, copy_suites, results, samples

pytest.importorskip("bfcl_eval", reason="needs bfcl-eval (pip install --no-deps bfcl-eval==2026.3.23)")
from pytest_nemoeval.tasks import bfcl  # noqa: E402
from pytest_nemoeval.tasks.bfcl import official as bfcl_official, scores as bfcl_scores  # noqa: E402

MODEL = "official"  # bfcl-eval names its backend instances after the model


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    """bfcl-eval's own per-entry grading (eval_runner) with its OpenAI function-calling handler."""
    bfcl_official.require_bfcl_eval()
    from bfcl_eval.constants.enums import Language, ReturnFormat
    from bfcl_eval.eval_checker import eval_runner
    from bfcl_eval.eval_checker.multi_turn_eval import multi_turn_utils
    from bfcl_eval.model_handler.api_inference.openai_completion import OpenAICompletionsHandler

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPENAI_API_KEY", "unused")  # the handler builds a client it never uses here
        handler = OpenAICompletionsHandler(model_name=MODEL, temperature=0, registry_name=MODEL, is_fc_model=True)

    def grade(sample: dict, result) -> bool:
        category, prompt = sample["category"], copy.deepcopy(sample)
        if category in bfcl.MEMORY or category in bfcl.WEB_SEARCH:
            return eval_runner._evaluate_single_agentic_entry(
                handler, sample["id"], copy.deepcopy(result), sample["ground_truth"], prompt, MODEL, category)["valid"]
        if category in bfcl.MULTI_TURN:
            try:
                return eval_runner._evaluate_single_multi_turn_entry(
                    handler, sample["id"], copy.deepcopy(result), sample["ground_truth"], prompt, MODEL,
                    category)["valid"]
            finally:  # its backends live on in module globals, reused by the next grading of the same entry
                for key in [key for key in vars(multi_turn_utils) if key.startswith(MODEL)]:
                    del vars(multi_turn_utils)[key]
        if "irrelevance" in category or category == "live_relevance":
            return eval_runner._evaluate_single_relevance_entry(
                handler, sample["id"], copy.deepcopy(result), prompt, MODEL, category)["valid"]
        language, form = {"simple_java": (Language.JAVA, ReturnFormat.JAVA),
                          "simple_javascript": (Language.JAVASCRIPT, ReturnFormat.JAVASCRIPT)}.get(
            category, (Language.PYTHON, ReturnFormat.PYTHON))
        return eval_runner._evaluate_single_ast_entry(handler, sample["id"], copy.deepcopy(result),
                                                      sample["ground_truth"], prompt, MODEL, category,
                                                      language, form)["valid"]

    return grade


@pytest.fixture(scope="module")
def entries():
    rows = bfcl.BfclData("bfcl_v4").load(limit=None)
    return {row["id"]: row for row in rows}


def call(name: str, **arguments) -> dict:
    """One tool call as the driver keeps it: {name: arguments JSON}."""
    return {name: json.dumps(arguments)}


def turns_from(sample: dict) -> list[list]:
    """A multi-turn result that makes exactly the ground-truth calls, one step per turn."""
    import ast

    docs = sample["function"] + [doc for held in (sample.get("missed_function") or {}).values() for doc in held]
    parameters = {doc["name"]: list(doc["parameters"]["properties"]) for doc in docs}
    turns = []
    for calls in sample["ground_truth"]:
        step = []
        for text in calls:
            node = ast.parse(text, mode="eval").body
            arguments = dict(zip(parameters[node.func.id], (ast.literal_eval(arg) for arg in node.args)))
            arguments.update({kw.arg: ast.literal_eval(kw.value) for kw in node.keywords})
            step.append({node.func.id: json.dumps(arguments)})
        turns.append([step, "Done."] if step else ["Nothing to do."])
    return turns


HAND_MADE = [
    ("simple_python_0", [call("calculate_triangle_area", base=10, height=5)], True),
    ("simple_python_0", [call("calculate_triangle_area", base=10, height=5, unit="units")], True),
    ("simple_python_0", [call("calculate_triangle_area", base="10", height=5)], False),  # wrong argument type
    ("simple_python_0", [call("calculate_triangle_area", height=5)], False),  # missing required argument
    ("simple_python_0", [call("calculate_triangle_area", base=10, height=5)] * 2, False),  # extra call
    ("simple_python_0", [call("calculate_circle_area", base=10, height=5)], False),  # wrong function
    ("simple_python_0", "The area is 25 square units.", False),  # text, no call
    ("simple_python_0", [{"calculate_triangle_area": "{not json"}], False),  # unparsable arguments
    ("simple_java_0", [call("GeometryPresentation_createPresentation", controller="mapController",
                            parent="mapArea")], True),  # "." in names becomes "_" in OpenAI tools
    ("simple_java_0", [call("GeometryPresentation_createPresentation", controller="mapController")], False),
    ("irrelevance_0", "I cannot compute that with the functions I have.", True),  # irrelevance detection
    ("irrelevance_0", [call("determine_body_mass_index", weight=70, height=1.75)], False),
    ("live_relevance_0-0-0", "No call.", False),
]


@pytest.mark.parametrize("entry_id, result, expected", HAND_MADE,
                         ids=[f"{case[0]}-{i}" for i, case in enumerate(HAND_MADE)])
def test_hand_made_responses_get_the_official_verdict(entries, official, entry_id, result, expected):
    sample = entries[entry_id]
    ours = bfcl.check(sample, result)
    assert ours["valid"] is expected, ours
    assert official(sample, result) is expected
    if not expected:
        assert ours["error"] and ours["error_type"]  # the reason goes into the sample record


def test_multi_turn_state_is_checked_like_the_official_checker(entries, official):
    sample = entries["multi_turn_base_0"]
    right = turns_from(sample)
    assert bfcl.check(sample, right)["valid"] is official(sample, right) is True
    wrong_state = copy.deepcopy(right)  # the last turn moves the wrong file: the file system differs
    wrong_state[-1][0][1] = call("mv", source="final_report.pdf", destination="temp")
    ours = bfcl.check(sample, wrong_state)
    assert ours["valid"] is official(sample, wrong_state) is False
    assert ours["error_type"].startswith("multi_turn:")
    cut_short = right[:-1]  # force-terminated conversation
    assert bfcl.check(sample, cut_short)["valid"] is official(sample, cut_short) is False
    silent_turn = copy.deepcopy(right)
    silent_turn[1] = ["I would grep it."]
    assert bfcl.check(sample, silent_turn)["valid"] is official(sample, silent_turn) is False


MEMORY_HAND_MADE = [  # the first question of the customer scenario: "What is my first name?" (Michael)
    ([["Your first name is Michael."]], True),
    ([[[call("core_memory_retrieve", key="first_name")], "It is michael!"]], True),  # calls, then the answer
    ([["Your first name is Michaela."]], False),  # a whole word is needed
    ([["I do not know your name."]], False),
    ([[[call("core_memory_retrieve", key="first_name")]]], False),  # no final message
    ([["Michael"], ["Michael"]], False),  # an agentic entry has one turn
]


@pytest.mark.parametrize("category", ["memory_kv", "memory_rec_sum"])
@pytest.mark.parametrize("result, expected", MEMORY_HAND_MADE, ids=[str(i) for i in range(len(MEMORY_HAND_MADE))])
def test_memory_answers_get_the_official_verdict(entries, official, category, result, expected):
    sample = entries[f"{category}_0-customer-0"]
    ours = bfcl.check(sample, result)
    assert ours["valid"] is official(sample, result) is expected, ours
    if not expected:
        assert ours["error"] and ours["error_type"].startswith("agentic:")


def variants(sample: dict) -> list:
    """A call made from the first accepted value of every argument, then broken ways of making it."""
    first = []
    for expected in sample["ground_truth"]:
        name, arguments = next(iter(expected.items()))
        values = {key: options[0] for key, options in arguments.items() if options and options[0] != ""}
        first.append((name.replace(".", "_"), values))
    good = [{name: json.dumps(values)} for name, values in first]
    dropped = [{name: json.dumps(dict(list(values.items())[1:]))} for name, values in first]
    typed = [{name: json.dumps({key: str(value) for key, value in values.items()})} for name, values in first]
    return [good, dropped, typed, good + good[:1], "no call", []]


def agentic_variants(sample: dict) -> list:
    """An answer in the last message (after a call or not), an answer in a call only, no answer."""
    answer, lookup = sample["ground_truth"][0], [call("core_memory_retrieve", key="fact")]
    return [[[f"I remember: {answer}."]], [[lookup, f"It is {answer}"]], [[lookup]], [["I don't remember."]],
            [[f"{answer}x"]]]


def test_verdicts_agree_with_the_official_grader_across_categories(entries, official):
    compared = agreed = valid = 0
    taken: dict[str, int] = {}
    for sample in entries.values():
        category = sample["category"]
        taken[category] = taken.get(category, 0) + 1
        if category == "memory_vector" or category in bfcl.MULTI_TURN or taken[category] > 15:
            continue
        if category in bfcl.MEMORY or category in bfcl.WEB_SEARCH:
            cases = agentic_variants(sample)
        else:
            cases = variants(sample) if sample["ground_truth"] else [[call("f", x=1)], "no call", []]
        for result in cases:
            ours = bfcl.check(sample, result)["valid"]
            compared, valid = compared + 1, valid + ours
            agreed += ours == official(sample, result)
    assert compared > 1000 and 200 < valid < compared - 200  # both verdicts are well represented
    assert agreed / compared >= 0.995, f"{agreed}/{compared}"


def test_overall_scores_follow_each_versions_weighting():
    scores = {"simple_python": (1.0, 400), "simple_java": (0.5, 100), "simple_javascript": (0.0, 50),
              "multiple": (1.0, 200), "parallel": (0.5, 200), "parallel_multiple": (0.5, 200),
              "irrelevance": (1.0, 240), "live_simple": (1.0, 100), "live_multiple": (0.0, 300),
              "live_irrelevance": (0.5, 800), "live_relevance": (1.0, 16),
              "multi_turn_base": (0.5, 200), "multi_turn_miss_func": (0.0, 200)}
    v3 = bfcl_scores.overall_scores("bfcl_v3", scores)
    assert v3["simple_ast"][0] == pytest.approx(0.5)
    assert v3["non_live"][0] == pytest.approx((0.5 + 1.0 + 0.5 + 0.5 + 1.0) / 5)
    assert v3["live"][0] == pytest.approx((100 + 400 + 16) / (100 + 300 + 800 + 16))
    assert v3["multi_turn"][0] == pytest.approx(0.25)
    assert v3["overall"][0] == pytest.approx((0.7 + 516 / 1216 + 0.25) / 3)
    v4 = bfcl_scores.overall_scores("bfcl_v4", scores)
    assert v4["non_live"][0] == pytest.approx((0.5 + 1.0 + 0.5 + 0.5) / 4)
    assert v4["live"][0] == pytest.approx(100 / 400)
    assert v4["total_irrelevance"][0] == pytest.approx(0.75)
    assert "agentic" not in v4  # no web search or memory scored: left out, the other weights renormalised
    assert v4["overall"][0] == pytest.approx((10 * 0.625 + 10 * 0.25 + 10 * 0.75 + 30 * 0.25) / 60)
    with_memory = bfcl_scores.overall_scores("bfcl_v4", {**scores, "memory_kv": (1.0, 155)})
    assert with_memory["overall"][0] == pytest.approx((10 * 0.625 + 10 * 0.25 + 10 * 0.75 + 30 * 0.25 + 40) / 100)


@pytest.mark.parametrize("version", ["bfcl_v3", "bfcl_v4"])
def test_the_overalls_category_weights_give_it_back_for_any_accuracies(version):
    # the per-sample form a baseline comparison pairs on: overall = sum(weight * category accuracy)
    import random

    counts = {"simple_python": 400, "simple_java": 100, "multiple": 200, "irrelevance": 240, "live_simple": 100,
              "live_multiple": 300, "live_irrelevance": 800, "multi_turn_base": 200, "memory_kv": 155}
    rng = random.Random(7)
    for _ in range(20):
        scores = {name: (rng.random(), count) for name, count in counts.items()}
        weights = bfcl_scores.category_weights(version, scores)
        overall = bfcl_scores.overall_scores(version, scores)["overall"][0]
        assert sum(weights[name] * accuracy for name, (accuracy, _) in scores.items()) == pytest.approx(overall)
    if version == "bfcl_v4":  # memory, the only agentic part here: 40 of 100; live_simple: live's 10 x 100/400
        assert weights["memory_kv"] == pytest.approx(0.4)
        assert weights["live_simple"] == pytest.approx(0.1 * 100 / 400)


@pytest.mark.parametrize("version", ["bfcl_v3", "bfcl_v4"])
def test_an_entry_that_errored_is_a_wrong_entry_of_its_category(tmp_path, version):
    from pytest_nemoeval.results import ResultsCollector
    from pytest_nemoeval.suite import load_suite_module

    suite = load_suite_module(str(ROOT / "suites" / f"test_{version}.py")).suite
    collector = ResultsCollector(tmp_path, "run")
    for index, (category, error) in enumerate([("simple_python", None), ("simple_python", "HTTP 500"),
                                                 ("multiple", "HTTP 500")]):
        ident = {"benchmark": version, "sample_index": index, "repeat": 0, "sample_id": index, "repeats": 1,
                 "primary_metric": "overall", "suite_file": "unused",
                 "failed_inputs": suite.failed_inputs({"id": f"{category}_{index}", "category": category})}
        record = None if error else {"correct": True, "metric_inputs": {"category": category}}
        collector.add(ident, record, error, None)
    collector.discard()
    metrics = getattr(bfcl_scores, version)(collector.tallies[version].outcomes(), 1)
    assert metrics["simple_python"] == {"value": 0.5, "stderr": 0.5, "ci95": [0.0, 1.0], "samples": 2}  # [1, 0]
    assert (metrics["multiple"]["value"], metrics["multiple"]["samples"]) == (0.0, 1)
    # non-live: the unweighted mean of simple (0.5) and multiple (0); overall: of non-live alone (v3: the groups
    # that ran; v4: non-live's weight renormalised)
    assert metrics["overall"] == {"value": pytest.approx(0.25), "samples": 3, "covers": ["multiple", "simple_python"],
                                  "category_weights": {"multiple": 0.5, "simple_python": 0.5}}


@pytest.fixture
def bfcl_project(pytester: pytest.Pytester) -> pytest.Pytester:
    copy_suites(pytester, "bfcl_v3", "bfcl_v4")
    return pytester


def test_k_selects_categories_by_item_id(bfcl_project, mock_server):
    mock = mock_server()
    result = bfcl_project.runpytest_subprocess("suites/", "--endpoint", mock.url, "--collect-only", "-q",
                                               "--limit-samples", "2", "-k", "bfcl_v4 and multi_turn")
    result.stdout.fnmatch_lines(["suites/test_bfcl_v4.py::test_bfcl_v4[[]s*-multi_turn_base_0-r0[]]",
                                 "suites/test_bfcl_v4.py::test_bfcl_v4[[]s*-multi_turn_long_context_1-r0[]]",
                                 "8/45 tests collected (37 deselected)*"])
    assert mock.chat_requests() == 0


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["n0", "n2"])
def test_suite_runs_tool_calls_through_the_engine_and_records_them(bfcl_project, mock_server, xdist):
    mock = mock_server("--answer", "Done.", "--tool-call", 'calculate_triangle_area={"base": 10, "height": 5}')
    result = bfcl_project.runpytest_subprocess(
        "suites/", "--endpoint", mock.url, "--limit-samples", "1", "-rs", *xdist,
        "-k", "bfcl_v4 and not live and (simple_python or multi_turn_base or web_search_base or parallel_multiple)")
    result.stdout.fnmatch_lines(["*web_search_base: web search needs a search backend*"])
    outcomes = result.parseoutcomes()  # under -n 2 in either order
    outcomes.pop("deselected", None)  # -k's count, reported without xdist only
    assert outcomes == {"skipped": 1, "correct": 1, "incorrect": 2}
    # single-turn: one request each; multi_turn_base_0 has 4 turns of (tool calls, then text): 8 requests
    assert mock.chat_requests() == 2 + 4 * 2
    rows = {row["sample_id"]: row for row in samples(bfcl_project, "bfcl_v4")}
    assert set(rows) == {"simple_python_0", "parallel_multiple_0", "multi_turn_base_0"}
    assert rows["simple_python_0"]["verdict"] == "correct"
    assert rows["simple_python_0"]["tool_calls"][0]["function"]["name"] == "calculate_triangle_area"
    assert rows["parallel_multiple_0"]["reason"] and rows["parallel_multiple_0"]["error_type"]
    multi = rows["multi_turn_base_0"]
    assert len(multi["tool_calls"]) == 4 and multi["error_type"].startswith("multi_turn:")
    metrics = results(bfcl_project)["benchmarks"]["bfcl_v4"]["metrics"]
    assert metrics["simple_python"]["value"] == 1.0 and metrics["multi_turn_base"]["value"] == 0.0
    assert metrics["overall"]["covers"] == ["multi_turn_base", "parallel_multiple", "simple_python"]
    # simple AST = 1 (only python ran) = non-live with parallel_multiple 0 -> 0.5; multi-turn 0; weights 10/30
    assert metrics["overall"]["value"] == pytest.approx(10 * 0.5 / 40)


def customer_turns() -> int:
    """User turns of the customer scenario's prerequisite conversations (each one item-less request chain)."""
    from bfcl_eval.utils import load_dataset_entry

    return sum(len(entry["question"]) for entry in load_dataset_entry("memory_kv", include_language_specific_hint=False)
               if "prereq" in entry["id"] and entry["scenario"] == "customer")


MEMORY_RUN = ("suites/test_bfcl_v4.py", "-k", "memory", "-rs")
REMEMBER = ("--tool-call", 'core_memory_add={"key": "first_name", "value": "Michael"}',  # memory_kv's tool
            "--tool-call", 'memory_append={"text": "First name: Michael"}')  # memory_rec_sum's tool


def memory_system_prompt(category: str, memory: str) -> str:
    """What bfcl-eval puts before a customer question: the memory instructions with the core memory, then
    the agentic answer format (model_handler/utils.add_memory_instruction_system_prompt)."""
    from bfcl_eval.constants import default_prompts as prompts

    template = (prompts.MEMORY_BACKEND_INSTRUCTION_UNIFIED if "rec_sum" in category
                else prompts.MEMORY_BACKEND_INSTRUCTION_CORE_ARCHIVAL)
    return (template.format(scenario_setting=prompts.MEMORY_AGENT_SETTINGS["customer"], memory_content=memory)
            + "\n\n" + prompts.ADDITIONAL_SYSTEM_PROMPT_FOR_AGENTIC_RESPONSE_FORMAT)


def test_memory_questions_see_what_their_prerequisite_conversations_stored(bfcl_project, mock_server):
    # The mock answers with the system prompt: the memory backend's content, so an answer holds "Michael" only
    # if the scenario's prerequisite conversations ran first and stored it (each turn: a call, then text).
    mock = mock_server("--answer", "{system}", *REMEMBER)
    result = bfcl_project.runpytest_subprocess(*MEMORY_RUN, "--limit-samples", "3", "--endpoint", mock.url,
                                               "--results-dir", "out")
    # the memory holds the first name only: question 0 (the name) is right, 1 and 2 (age, city) are not
    result.stdout.fnmatch_lines(["*memory_vector: the vector memory backend embeds with sentence-transformers*",
                                 "*3 skipped*2 correct, 4 incorrect*"])
    # one chain per backend, shared by its three questions (each a call, then the answer)
    assert mock.chat_requests() == 2 * (2 * customer_turns() + 3 * 2)
    snapshots = bfcl_project.path / "out" / "bfcl_memory"
    kv = json.loads((snapshots / "memory_kv/r0/agentic/memory/kv/memory_snapshot/customer_final.json").read_text())
    assert kv["core_memory"] == {"first_name": "Michael"}  # a second add of the same key is refused
    summary = snapshots / "memory_rec_sum/r0/agentic/memory/rec_sum/memory_snapshot/customer_final.json"
    # each prerequisite started from the last one's memory: one append per user turn, all kept
    assert json.loads(summary.read_text())["memory"].count("First name: Michael") == customer_turns()
    rows = {row["sample_id"]: row for row in samples(bfcl_project, "bfcl_v4", results_dir="out")}
    assert rows["memory_kv_0-customer-0"]["response"] == memory_system_prompt(  # as recorded: stripped
        "memory_kv", json.dumps({"first_name": "Michael"}, indent=4)).strip()
    assert rows["memory_rec_sum_0-customer-0"]["failed_prerequisites"] == []
    metrics = results(bfcl_project, results_dir="out")["benchmarks"]["bfcl_v4"]["metrics"]
    assert [metrics[name]["value"] for name in ("memory_kv", "memory_rec_sum", "memory")] == pytest.approx([1 / 3] * 3)
    assert metrics["overall"]["covers"] == ["memory_kv", "memory_rec_sum"]


def test_memory_questions_without_stored_memory_are_wrong(bfcl_project, mock_server):
    mock = mock_server("--answer", "{system}")  # no tool calls: nothing is stored
    result = bfcl_project.runpytest_subprocess(*MEMORY_RUN, "--limit-samples", "1", "--endpoint", mock.url)
    result.stdout.fnmatch_lines(["*1 skipped*2 incorrect*"])
    assert mock.chat_requests() == 2 * (customer_turns() + 1)
    rows = samples(bfcl_project, "bfcl_v4")
    assert {row["error_type"] for row in rows} == {"agentic:answer_not_found"}


def test_a_failed_prerequisite_conversation_is_left_out_as_bfcl_eval_does(bfcl_project, mock_server):
    # the first request is refused (prompt too long): the first conversation stops there, the others run
    mock = mock_server("--answer", "{system}", "--fault", "context:1", *REMEMBER)
    result = bfcl_project.runpytest_subprocess(*MEMORY_RUN, "--limit-samples", "1", "-k", "memory_kv",
                                               "--endpoint", mock.url)
    result.stdout.fnmatch_lines(["*1 correct*"])
    from bfcl_eval.utils import load_dataset_entry

    first = next(entry for entry in load_dataset_entry("memory_kv") if entry["id"] == "memory_kv_prereq_0-customer-0")
    assert mock.chat_requests() == 1 + 2 * (customer_turns() - len(first["question"])) + 2
    failed = samples(bfcl_project, "bfcl_v4")[0]["failed_prerequisites"]
    assert len(failed) == 1 and failed[0].startswith("memory_kv_prereq_0-customer-0: ")


def test_a_dead_endpoint_fails_the_memory_questions_with_its_reason(bfcl_project, mock_server):
    mock = mock_server("--answer", "{system}", "--die-after", "30", *REMEMBER)
    result = bfcl_project.runpytest_subprocess(*MEMORY_RUN, "--limit-samples", "1", "--endpoint", mock.url,
                                               "--max-retries", "0")
    result.stdout.fnmatch_lines(["cannot connect*", "*2 errors*"])
    entry = results(bfcl_project)["benchmarks"]["bfcl_v4"]
    assert (entry["items"], entry["errors"], entry["skipped"]) == (2, 2, 1)  # memory_vector is skipped
    # the errored questions are wrong entries of their categories (from their rows), not left out
    assert [entry["metrics"][name]["value"] for name in ("memory_kv", "memory_rec_sum", "overall")] == [0.0] * 3
    assert entry["metrics"]["overall"]["covers"] == ["memory_kv", "memory_rec_sum"]


SERP_KEY = "serp-secret-789"
# SerpAPI is on the internet: the runs' processes (pytest and its engine) send its searches to the mock
SERPAPI_REDIRECT = ("import os\nif os.environ.get('TEST_SERPAPI_URL'):\n    import serpapi\n"
                    "    serpapi.SerpApiClient.BACKEND = os.environ['TEST_SERPAPI_URL']\n")


@pytest.fixture
def search_project(bfcl_project, monkeypatch):
    (bfcl_project.path / "site").mkdir()
    (bfcl_project.path / "site" / "sitecustomize.py").write_text(SERPAPI_REDIRECT)
    monkeypatch.setenv("PYTHONPATH", f"{bfcl_project.path / 'site'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    monkeypatch.setenv("SERPAPI_API_KEY", SERP_KEY)
    return bfcl_project


SEARCH_RUN = ("suites/test_bfcl_v4.py", "--limit-samples", "1", "-k", "web_search", "-rs")
SEARCH_CALL = ("--tool-call", 'search_engine_query={"keywords": "most expensive tea producer richest"}')


def test_web_search_runs_with_a_search_key(search_project, mock_server, monkeypatch):
    # one search, then the model answers with what it found: the snippet names the answer, which
    # web_search_no_snippet's results leave out
    mock = mock_server("--answer", "{tool}", *SEARCH_CALL, "--search-key", SERP_KEY,
                       "--search-snippet", "Zhang Yiming, of China (home of Da Hong Pao), tops the list.")
    monkeypatch.setenv("TEST_SERPAPI_URL", mock.url)
    result = search_project.runpytest_subprocess(*SEARCH_RUN, "--endpoint", mock.url)
    result.stdout.fnmatch_lines(["*1 correct, 1 incorrect*"])
    # the two categories' first requests are the same request (same question and tools): sent once
    assert mock.stats()["search_requests"] == 2 and mock.chat_requests() == 3
    metrics = results(search_project)["benchmarks"]["bfcl_v4"]["metrics"]
    assert (metrics["web_search_base"]["value"], metrics["web_search_no_snippet"]["value"]) == (1.0, 0.0)
    assert metrics["web_search"]["value"] == 0.5 and metrics["overall"]["covers"] == bfcl.WEB_SEARCH


def test_web_search_without_a_key_is_skipped_with_the_reason(search_project, mock_server, monkeypatch):
    monkeypatch.delenv("SERPAPI_API_KEY")
    mock = mock_server("--answer", "{tool}", *SEARCH_CALL, "--search-snippet", "Zhang Yiming")
    monkeypatch.setenv("TEST_SERPAPI_URL", mock.url)
    result = search_project.runpytest_subprocess(*SEARCH_RUN, "--endpoint", mock.url)
    result.stdout.fnmatch_lines(["*web_search_base: web search needs a search backend: export SERPAPI_API_KEY*",
                                 "*2 skipped*"])
    assert mock.chat_requests() == 0
    monkeypatch.setenv("SERPAPI_API_KEY", SERP_KEY)  # the same project, now with a key: nothing skipped is cached
    result = search_project.runpytest_subprocess(*SEARCH_RUN, "--endpoint", mock.url)
    result.stdout.fnmatch_lines(["*1 correct, 1 incorrect*"])
    assert mock.stats()["search_requests"] == 2


def test_the_search_key_never_reaches_the_model_or_the_records(search_project, mock_server, monkeypatch):
    # SerpAPI unreachable: its client's error quotes the request URL, api_key included, and bfcl-eval's
    # backend hands that error to the model as the tool result
    mock = mock_server("--answer", "{tool}", *SEARCH_CALL)
    monkeypatch.setenv("TEST_SERPAPI_URL", "http://127.0.0.1:9")
    result = search_project.runpytest_subprocess(*SEARCH_RUN, "--endpoint", mock.url)
    result.stdout.fnmatch_lines(["*2 incorrect*"])
    stored = b"".join(path.read_bytes() for path in (search_project.path / "results").rglob("*") if path.is_file())
    assert SERP_KEY.encode() not in stored and SERP_KEY not in result.stdout.str() + result.stderr.str()
    assert b"api_key=***" in stored  # the model saw the error, without the key


def test_calls_that_are_not_backend_methods_are_never_run(entries, tmp_path):
    """bfcl-eval evals the call text: `open(file=..., mode="w")`, or code in an argument name, would run as
    Python in the engine process. Such calls fail like a call to an unknown function, and run nothing."""
    import asyncio
    import re

    sample = entries["multi_turn_base_0"]
    target = tmp_path / "pwned"
    hostile = [{"open": json.dumps({"file": str(target), "mode": "w"})},  # a builtin, not a backend method
               {"ls": json.dumps({f"a=1) if 0 else open({str(target)!r}, 'w') #": 1})},  # code in an argument name
               {"cd": json.dumps({"folder": "document"})}]  # a real call: it runs
    allowed = bfcl_official.backend_methods(tuple(sample["involved_classes"]))
    texts = bfcl_official.to_calls(hostile, allowed)
    assert texts[:2] == [f"{bfcl_official.REFUSED}()"] * 2 and texts[2] == "cd(folder='document')"
    assert all(re.fullmatch(r"\w+\((\w+=[^()]*)?\)", text) for text in texts)
    sent = []

    class Chat:
        messages = sample["question"][0]
        repeat = 0
        settings: dict = {}

        async def __call__(self, messages, **options):
            sent.append(copy.deepcopy(messages))
            steps = sum(1 for message in messages if message["role"] == "assistant")
            if steps == 0:
                return {"content": None, "tool_calls": [
                    {"id": f"c{i}", "type": "function", "function": {"name": name, "arguments": arguments}}
                    for i, call in enumerate(hostile) for name, arguments in call.items()]}
            return {"content": "Done."}

    chat = Chat()
    chat.sample = sample
    asyncio.run(bfcl.converse(sample, chat))
    outputs = [message["content"] for message in sent[1] if message["role"] == "tool"]
    assert [output.startswith("Error during execution: name 'refused_call") for output in outputs] == [True, True, False]
    assert bfcl.check(sample, [[hostile, "Done."]])["valid"] is False
    assert not target.exists()


def test_suites_run_on_the_embedded_model(bfcl_project):
    """Tools reach llama.cpp's server, which parses the model's tool calls (the embedded chat template).
    Multi-turn entries' tools alone are 5k tokens, beyond the embedded slots' 2k context: the mock covers them."""
    result = bfcl_project.runpytest_subprocess(
        "suites/", "--limit-samples", "2", "--set", "generation.max_new_tokens=64", "--set",
        "generation.temperature=0", "-k", "simple_python")
    assert result.ret == 0, result.stdout.str()
    benchmarks = results(bfcl_project)["benchmarks"]
    assert (benchmarks["bfcl_v4"]["items"], benchmarks["bfcl_v4"]["errors"]) == (2, 0)
    assert (benchmarks["bfcl_v3"]["items"], benchmarks["bfcl_v3"]["errors"]) == (2, 0)
    assert benchmarks["bfcl_v4"]["metrics"]["overall"]["covers"] == ["simple_python"]
    # the tiny model may answer in text; the calls it makes come back parsed (greedy, it makes one at least)
    calls = [call["function"] for row in samples(bfcl_project, "bfcl_v4") for call in row["tool_calls"] or []]
    assert calls and all(isinstance(json.loads(call["arguments"]), dict) for call in calls), calls
    assert all(row["reason"] or row["verdict"] == "correct" for row in samples(bfcl_project, "bfcl_v3"))


def test_missing_bfcl_eval_is_one_line_naming_the_extra(bfcl_project, mock_server):
    (bfcl_project.path / "conftest.py").write_text("import sys\nsys.modules['bfcl_eval'] = None  # not installed\n")
    mock = mock_server()
    result = bfcl_project.runpytest_subprocess("suites/", "--endpoint", mock.url, "--limit-samples", "1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: bfcl_v3: BFCL needs the bfcl-eval package: pip install 'pytest-nemoeval[bfcl]' "
                                 "&& pip install --no-deps bfcl-eval==2026.3.23"])
    assert mock.chat_requests() == 0 and not (bfcl_project.path / "results" / "results.json").exists()


def test_other_suites_never_import_bfcl_eval(bfcl_project, mock_server):
    """With --data-dir (rows in the package's schema, as in examples/data), only BFCL items need bfcl-eval."""
    (bfcl_project.path / "conftest.py").write_text("import sys\nsys.modules['bfcl_eval'] = None  # not installed\n")
    shutil.copy(ROOT / "suites" / "test_mmlu_pro.py", bfcl_project.path / "suites")
    shutil.copytree(ROOT / "examples" / "data", bfcl_project.path / "data")
    mock = mock_server()
    result = bfcl_project.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data",
                                               "--limit-samples", "2", "-k", "mmlu_pro")
    assert result.ret == 0, result.stdout.str()
    assert results(bfcl_project)["benchmarks"]["mmlu_pro"]["items"] == 2


def test_multi_turn_verdicts_agree_with_the_official_grader(entries, official):
    compared = agreed = valid = 0
    for category in bfcl.MULTI_TURN:
        for index in range(5):
            sample = entries[f"{category}_{index}"]
            right = turns_from(sample)
            last_turn = next(i for i in reversed(range(len(right))) if isinstance(right[i][0], list))
            early_stop = copy.deepcopy(right)
            early_stop[last_turn] = ["I am done."]  # the last turn with calls makes none
            for result in (right, early_stop, right[:-1]):
                ours = bfcl.check(sample, result)["valid"]
                compared, valid = compared + 1, valid + ours
                agreed += ours == official(sample, result)
    assert agreed == compared and valid >= 15, (agreed, compared, valid)


def test_data_dir_rows_in_the_packages_schema(bfcl_project, mock_server):
    shutil.copytree(ROOT / "examples" / "data", bfcl_project.path / "data")
    mock = mock_server("--answer", "Done.", "--tool-call", 'calculate_triangle_area={"base": 10, "height": 5}')
    listed = bfcl_project.runpytest_subprocess("suites/test_bfcl_v4.py", "--endpoint", mock.url, "--data-dir", "data",
                                               "--collect-only", "-q")
    listed.stdout.fnmatch_lines([f"{len(bfcl.CATEGORIES['bfcl_v4'])} tests collected*"])  # one per category
    result = bfcl_project.runpytest_subprocess("suites/test_bfcl_v4.py", "--endpoint", mock.url, "--data-dir", "data",
                                               "-k", "simple_python or multi_turn_miss_func")
    result.stdout.fnmatch_lines(["*1 correct, 1 incorrect*"])


def test_an_entry_without_functions_is_sent_without_tools(entries):
    import asyncio

    sent = []

    class Chat:
        messages = [{"role": "user", "content": "hi"}]
        settings: dict = {}

        async def __call__(self, messages, **options):
            sent.append(options)
            return {"content": "no call"}

    for entry_id in ("live_irrelevance_120-9-0", "irrelevance_0"):
        body = asyncio.run(bfcl.converse(entries[entry_id], Chat()))
        assert body["result"] == "no call"
    assert "tools" not in sent[0] and sent[1]["tools"][0]["type"] == "function"
