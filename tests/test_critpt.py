"""CritPt: two turns per item, answers graded by a mock of Artificial Analysis' API in batches of exactly 70 with
the key header; without a key the benchmark is `unscored` (never 0, a threshold on it INCONCLUSIVE), and
`python -m pytest_nemoeval grade` grades the stored answers later."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from helpers import ROOT, copy_suites, results, samples
from pytest_nemoeval.errors import Unscored
from pytest_nemoeval.tasks import critpt

KEY = "aa-secret-key-31415"
REPLY = "Filled in:\n```python\ndef answer():\n    return 42\n```\nDone."


class GradingAPI:
    """The CritPt API: checks the key header and the batch, answers the scripted accuracies in turn."""

    def __init__(self, accuracies: list[float], status: int = 200) -> None:
        self.accuracies, self.status, self.calls = list(accuracies), status, []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                api.calls.append({"key": self.headers.get("x-api-key"), "payload": payload})
                ok = (self.headers.get("x-api-key") == KEY and len(payload["submissions"]) == 70
                      and payload["batch_metadata"] == {})
                status = api.status if ok else 400
                body = {"accuracy": api.accuracies.pop(0), "timeout_rate": 0.0, "server_timeout_count": 0,
                        "judge_error_count": 0} if status == 200 else {"error": "bad batch or key"}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/v2/critpt/evaluate"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def api() -> Iterator:
    started = []

    def start(accuracies: list[float], status: int = 200) -> GradingAPI:
        started.append(GradingAPI(accuracies, status))
        return started[-1]

    yield start
    for server in started:
        server.server.shutdown()


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    copy_suites(pytester, "critpt")
    (pytester.path / "data").mkdir()
    rows = [{"problem_id": f"Challenge_{i:02d}_main", "problem_description": f"Problem {i}: find E.",
             "code_template": "def answer():\n    E = ...\n    return E"} for i in range(70)]
    (pytester.path / "data" / "critpt.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    monkeypatch.delenv("ARTIFICIAL_ANALYSIS_API_KEY", raising=False)
    return pytester


def run(pytester: pytest.Pytester, model, api, *args: str, repeats: int = 1) -> pytest.RunResult:
    return pytester.runpytest_subprocess("suites/", "--endpoint", model.url, "--data-dir", "data", "--repeats",
                                         str(repeats), "--critpt-api-url", api.url, *args)


def test_two_turns_then_the_api_grades_each_repeat_as_one_batch_of_70_with_the_key(project, mock_server, api,
                                                                                    monkeypatch):
    monkeypatch.setenv("MY_AA_KEY", KEY)
    model, grading = mock_server("--answer", REPLY), api([0.1, 0.2])
    result = run(project, model, grading, "--critpt-api-key-env", "MY_AA_KEY", repeats=2)
    assert result.ret == 0, result.stdout.str()
    assert result.parseoutcomes()["ungraded"] == 140 and model.chat_requests() == 280  # 70 x 2 repeats x 2 turns
    assert [call["key"] for call in grading.calls] == [KEY, KEY]
    batch = grading.calls[0]["payload"]["submissions"]
    assert [s["problem_id"] for s in batch] == [f"Challenge_{i:02d}_main" for i in range(70)]
    assert batch[0] == {"problem_id": "Challenge_00_main", "model": "unknown", "generation_config": {},
                        "generated_code": "```python\ndef answer():\n    return 42\n```"}
    entry = results(project)["benchmarks"]["critpt"]
    assert "unscored" not in entry
    assert entry["metrics"]["accuracy"]["value"] == pytest.approx(0.15)
    assert entry["metrics"]["accuracy"]["per_repeat"] == [0.1, 0.2] and "pass@2" not in entry["metrics"]
    row = samples(project, "critpt")[0]
    assert row["verdict"] == "ungraded" and row["solution"] == REPLY
    written = b"".join(path.read_bytes() for path in (project.path / "results").rglob("*") if path.is_file())
    assert KEY.encode() not in written and KEY not in result.stdout.str() + result.stderr.str()


def test_without_the_key_unscored_a_threshold_inconclusive_then_graded_later(project, mock_server, api,
                                                                             monkeypatch):
    model, grading = mock_server("--answer", REPLY), api([0.4])
    result = run(project, model, grading, "--threshold", "critpt.accuracy>=0.35")
    assert result.ret == 6, result.stdout.str()  # INCONCLUSIVE's status: the threshold neither passed nor failed
    result.stdout.fnmatch_lines(["critpt: unscored: the environment variable ARTIFICIAL_ANALYSIS_API_KEY *",
                                 "GATE INCONCLUSIVE: critpt.accuracy>=0.35: critpt is unscored (*"])
    document = results(project)
    entry = document["benchmarks"]["critpt"]
    assert "ARTIFICIAL_ANALYSIS_API_KEY" in entry["unscored"] and "accuracy" not in entry["metrics"]
    assert entry["thresholds"] == [{"metric": "accuracy", "op": ">=", "value": 0.35, "passed": None, "unscored": True}]
    assert grading.calls == [] and document["gate"]["passed"] is True

    monkeypatch.setenv("LATER_KEY", KEY)
    later = subprocess.run([sys.executable, "-m", "pytest_nemoeval", "grade", "results", "--set",
                            "critpt.api_key_env=LATER_KEY"], cwd=project.path, capture_output=True, text=True,
                           timeout=60)
    assert later.returncode == 0, later.stderr
    assert later.stdout.startswith("critpt: accuracy 0.4000") and KEY not in later.stdout + later.stderr
    assert [len(call["payload"]["submissions"]) for call in grading.calls] == [70]
    document = results(project)
    entry = document["benchmarks"]["critpt"]
    assert "unscored" not in entry and entry["metrics"]["accuracy"]["value"] == pytest.approx(0.4)
    assert entry["thresholds"] == [{"metric": "accuracy", "op": ">=", "value": 0.35, "passed": True}]
    assert document["gate"] == {"passed": True, "failures": []}


def batch(repeats: int = 1, problems: int = 70) -> dict[int, list[dict]]:
    return critpt.batches((repeat, f"P{i:02d}", "```python\nx\n```") for repeat in range(repeats)
                          for i in range(problems))


def test_fewer_than_70_problems_or_a_failing_api_leave_it_unscored_with_the_reason(api, tmp_path, monkeypatch):
    monkeypatch.setenv("AA_KEY", KEY)
    failing = api([], status=503)
    with pytest.raises(Unscored, match="all 70 problems at once and this run has 2"):
        critpt.grade(batch(problems=2), failing.url, "AA_KEY", tmp_path)
    assert failing.calls == []
    with pytest.raises(Unscored, match="answered HTTP 503"):
        critpt.grade(batch(), failing.url, "AA_KEY", tmp_path)
    with pytest.raises(Unscored, match="could not be reached"):
        critpt.grade(batch(), "http://127.0.0.1:9/evaluate", "AA_KEY", tmp_path)


def test_an_answered_batch_is_kept_and_not_sent_again(api, tmp_path, monkeypatch):
    monkeypatch.setenv("AA_KEY", KEY)
    grading = api([0.25, 0.5])
    first = critpt.grade(batch(repeats=2), grading.url, "AA_KEY", tmp_path)
    monkeypatch.delenv("AA_KEY")  # the answers on disk need no key
    again = critpt.grade(batch(repeats=2), grading.url, "AA_KEY", tmp_path)
    assert first == again and first["accuracy"]["value"] == pytest.approx(0.375) and len(grading.calls) == 2
    assert all(KEY not in path.read_text() for path in tmp_path.iterdir())


def test_grade_on_a_directory_without_a_run_is_one_line():
    later = subprocess.run([sys.executable, "-m", "pytest_nemoeval", "grade", "/nonexistent"], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert later.returncode == 2 and later.stderr.strip().count("\n") == 0 and "no finished run" in later.stderr


@pytest.mark.parametrize("reply, code", [
    ("x\n```python\nfirst\n```\nthen\n```python\ndef answer():\n    return 1\n```", "```python\ndef answer():\n    return 1\n```"),
    ("```\nplain fence\n```", "```python\nplain fence\n```"),
    ("def answer(): return 2", "```python\ndef answer(): return 2\n```"),
    ("", "```python\n\n```")])
def test_generated_code_is_the_last_fenced_block_fenced_as_python(reply, code):
    assert critpt.generated_code(reply) == code


def test_prompts_are_nemo_skills_two_turns():
    messages = critpt.prompt({"problem_description": "P?"})
    assert messages[0]["content"].startswith("You are a physics research assistant specializing in solving complex, "
                                             "research-level problems")
    assert "provide it (e.g., $\\sqrt{2}$, $\\pi/4$)" in messages[0]["content"] and messages[1]["content"] == "P?"
    turn = critpt.code_turn({"code_template": "def answer():\n    ..."})["content"]
    assert turn.startswith("Populate your final answer into the code template provided below.\n")
    assert turn.endswith("```python\ndef answer():\n    ...\n```")


def test_a_run_graded_benchmark_is_not_compared_on_its_ungraded_verdicts(tmp_path):
    from pytest_nemoeval.compare.policy import BenchmarkPolicy
    from pytest_nemoeval.compare.report import compare_benchmark
    from pytest_nemoeval.compare.runs import Run

    entry = {"primary_metric": "accuracy", "graded": "run", "metrics": {}}
    base = Run(tmp_path / "a", {"critpt": entry}, {"critpt": tmp_path / "a.jsonl"})
    cand = Run(tmp_path / "b", {"critpt": dict(entry)}, {"critpt": tmp_path / "b.jsonl"})
    compared = compare_benchmark("critpt", base, cand, BenchmarkPolicy(), 0.01, False)
    assert compared["verdict"] == "NOT COMPARABLE" and "graded for the whole run" in compared["reason"]
