"""--until-decided on the mock server: a candidate run whose comparison with the baseline is INCONCLUSIVE after its
own repeat sends extra repeats through the engine until the sequential test decides, and says what it took."""

from __future__ import annotations

import json

import pytest

from helpers import MMLU_DATA, results, samples

ROWS = [json.loads(line) for line in MMLU_DATA.read_text().splitlines()]
RIGHT = [[row["question"], f"Answer: \\boxed{{{row['answer']}}}"] for row in ROWS]
WRONG = "Answer: \\boxed{Z}"


def server(bench: pytest.Pytester, mock_server, by_seed: dict[str, list[list[str]]]):
    """A mock whose reply to a sample depends on the request's seed: with generation.seed=0, repeat r asks seed r."""
    path = bench.path / f"answers-{len(list(bench.path.glob('answers-*')))}.json"
    path.write_text(json.dumps(by_seed))
    return mock_server("--answers", str(path))


def wrong_on(indices: range | list[int]) -> list[list[str]]:
    """Rules: wrong on these samples, right on the others."""
    return [[row["question"], WRONG] for i, row in enumerate(ROWS) if i in indices] + RIGHT


def run(bench: pytest.Pytester, mock, results_dir: str, *args: str) -> pytest.RunResult:
    return bench.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data", "--results-dir",
                                      results_dir, "--set", "generation.seed=0", "--max-drop", "0.1", *args)


@pytest.fixture
def baseline(bench, mock_server) -> str:
    """Right on all 20 samples, one repeat."""
    assert run(bench, server(bench, mock_server, {"*": RIGHT}), "base").ret == 0
    return "base"


@pytest.mark.parametrize("later, verdict, looks", [
    pytest.param([], "GO", 3, id="go"),  # the two first-repeat misses were bad luck: the extra repeats are right
    pytest.param(range(12), "NO-GO", 2, id="no-go"),  # the extra repeats miss 12 of 20
])
def test_an_inconclusive_benchmark_is_decided_by_extra_repeats(bench, mock_server, baseline, later, verdict, looks):
    mock = server(bench, mock_server, {"0": wrong_on([0, 1]), "*": wrong_on(later)})
    plain = run(bench, mock, "plain", "--baseline", baseline)
    assert plain.ret == 6  # without --until-decided: INCONCLUSIVE (delta -0.10 against a max drop of 0.1)
    assert results(bench, "plain")["comparison"]["benchmarks"]["mmlu_pro"]["verdict"] == "INCONCLUSIVE"
    before = mock.chat_requests()
    result = run(bench, mock, "cand", "--baseline", baseline, "--until-decided", "--max-extra-repeats", "3")
    assert result.ret == (0 if verdict == "GO" else 1), result.stdout.str()
    document = results(bench, "cand")
    entry = document["comparison"]["benchmarks"]["mmlu_pro"]
    record = entry["until_decided"]
    extra = looks - 1
    assert (entry["verdict"], record["decided_at"], record["extra_repeats"]) == (verdict, extra, extra)
    assert record["extra_requests"] == 20 * extra == mock.chat_requests() - before - 20  # through the engine
    assert record["looks"] == looks and record["stopped"] == "decided"
    assert abs(record["z"]) >= record["boundary"] == record["boundaries"][extra]
    rows = samples(bench, results_dir="cand")
    assert sorted({row["repeat"] for row in rows}) == list(range(looks)) and len(rows) == 20 * looks
    assert document["benchmarks"]["mmlu_pro"]["repeats"] == looks and entry["unpaired"]["candidate"] == 0
    later_right = [i not in later for i in range(20)]
    expected = sum((i not in (0, 1)) + extra * later_right[i] for i in range(20)) / (20 * looks)
    assert entry["candidate"] == pytest.approx(expected)
    result.stdout.fnmatch_lines([f"*verdict: {verdict}*until decided at look {extra} of 4: {extra} extra "
                                 f"repeat(s), {20 * extra} extra requests*"])
