"""--until-decided on the mock server: a candidate run whose comparison with the baseline is INCONCLUSIVE after its
own repeat sends extra repeats through the engine until the sequential test decides, and says what it took."""

from __future__ import annotations

import json

import pytest

from helpers import MMLU_DATA, results, samples
from test_compare import compare

ROWS = [json.loads(line) for line in MMLU_DATA.read_text().splitlines()]
RIGHT = [[row["question"], f"Answer: \\boxed{{{row['answer']}}}"] for row in ROWS]
WRONG = "Answer: \\boxed{Z}"
FIRST_MISSES = [5, 9]


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


def decided(bench: pytest.Pytester, mock_server, later: range | list[int], directory: str, *args: str):
    """A candidate whose first repeat misses samples 5 and 9 (delta -0.10 against a max drop of 0.1: INCONCLUSIVE)
    and whose later repeats miss `later`, run with --until-decided: its comparison entry and the mock server."""
    mock = server(bench, mock_server, {"0": wrong_on(FIRST_MISSES), "*": wrong_on(later)})
    result = run(bench, mock, directory, "--baseline", "base", "--until-decided", *args)
    return result, results(bench, directory), mock


def test_inconclusive_benchmarks_are_decided_by_extra_repeats(bench, mock_server):
    assert run(bench, server(bench, mock_server, {"*": RIGHT}), "base").ret == 0  # right on all 20, one repeat
    # no time for an extra repeat: the run's own repeat leaves it INCONCLUSIVE
    result, document, mock = decided(bench, mock_server, range(12), "timed", "--max-extra-time", "0.001")
    assert result.ret == 6
    entry = document["comparison"]["benchmarks"]["mmlu_pro"]
    assert entry["verdict"] == "INCONCLUSIVE" and entry["delta"] == pytest.approx(-0.1)
    record = entry["until_decided"]
    assert (record["extra_repeats"], record["extra_requests"], record["stopped"]) == (0, 0, "max-extra-time")
    assert mock.chat_requests() == 20  # the run's own
    note = "until-decided: undecided after 0 extra repeat(s) of at most 4 (max-extra-time), 0 extra requests"
    result.stdout.fnmatch_lines([f"*verdict: INCONCLUSIVE ({note}; z +0.000 against the pocock boundary 2.438)*"])
    # the two misses were bad luck (GO after two extra repeats); a worse model (NO-GO after one)
    for later, verdict, extra in (([], "GO", 2), (range(12), "NO-GO", 1)):
        result, document, mock = decided(bench, mock_server, later, verdict, "--max-extra-repeats", "3")
        assert result.ret == (0 if verdict == "GO" else 1), result.stdout.str()
        entry = document["comparison"]["benchmarks"]["mmlu_pro"]
        record = entry["until_decided"]
        assert (entry["verdict"], record["decided_at"], record["extra_repeats"]) == (verdict, extra, extra)
        assert record["extra_requests"] == 20 * extra == mock.chat_requests() - 20  # sent through the engine
        assert record["looks"] == extra + 1 and record["stopped"] == "decided"
        assert abs(record["z"]) >= record["boundary"] == record["boundaries"][extra]
        rows = samples(bench, results_dir=verdict)
        assert sorted({row["repeat"] for row in rows}) == list(range(extra + 1)) and len(rows) == 20 * (extra + 1)
        for repeat in range(1, extra + 1):  # the discordant (and then uncertain) samples are sent and run first
            assert [row["sample_index"] for row in rows if row["repeat"] == repeat][:2] == FIRST_MISSES
        assert document["benchmarks"]["mmlu_pro"]["repeats"] == extra + 1 and entry["unpaired"]["candidate"] == 0
        right = sum((i not in FIRST_MISSES) + extra * (i not in later) for i in range(20))  # items, by hand
        assert entry["candidate"] == pytest.approx(right / (20 * (extra + 1)))
        note = f"until-decided: decided after {extra} extra repeat(s) of at most 3, {20 * extra} extra requests"
        result.stdout.fnmatch_lines([f"*verdict: {verdict} ({note}; z *"])
    # offline, the same two runs give the same sequential verdict (not the fixed-sample one)
    offline = compare(bench, "base", "GO", "--format", "json", "--max-drop", "0.1")
    assert json.loads(offline.stdout)["benchmarks"] == results(bench, "GO")["comparison"]["benchmarks"]


@pytest.mark.parametrize("args, message", [
    pytest.param([], "--until-decided needs --baseline DIR*", id="no-baseline"),
    pytest.param(["--baseline", "base", "--shard", "1/2"], "--until-decided does not combine with --shard*",
                 id="shard"),
    pytest.param(["--baseline", "base", "-n", "2"], "--until-decided runs its extra repeats in the process that "
                 "runs the items: drop -n/--dist (xdist)", id="xdist"),
    pytest.param(["--baseline", "base", "--alpha-spending", "wald"], "--alpha-spending must be one of pocock, "
                 "obrien-fleming, got 'wald'", id="spending"),
])
def test_what_until_decided_cannot_do_is_one_line(bench, args, message):
    (bench.path / "base").mkdir()
    (bench.path / "base" / "results.json").write_text('{"benchmarks": {}}')
    result = bench.runpytest_subprocess("suites/", "--endpoint", "http://127.0.0.1:9/v1", "--data-dir", "data",
                                        "--until-decided", *args)
    assert result.ret == 4
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "Traceback" not in result.stderr.str()
