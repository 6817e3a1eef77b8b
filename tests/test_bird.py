"""BIRD: the execution check on a database built here (read-only, time and memory bounds, set equality), the
cached download, and the suite end to end against scripted replies, each verdict checked."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import sqlite3
import time
import zipfile
from pathlib import Path

import pytest

from helpers import ROOT, copy_suites, results, samples
from pytest_nemoeval import DataError
from pytest_nemoeval.tasks.bird import BirdDev, extract_sql, prepare_rows, prompt
from pytest_nemoeval.tasks.bird.execution import QueryPool, compare

GOLD = "SELECT name, team FROM player WHERE team = 'red'"
# a recursive CTE that never ends: only the time limit stops it
ENDLESS = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"


def build_database(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    connection.executescript(
        "CREATE TABLE player (id INTEGER PRIMARY KEY, name TEXT, team TEXT, points REAL);"
        "INSERT INTO player VALUES (1, 'ann', 'red', 10.5), (2, 'bob', 'blue', 3), (3, 'cy', 'red', 7),"
        " (4, 'dee', 'blue', 0), (5, 'eve', 'red', NULL);")
    connection.commit()
    connection.close()
    return path


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return build_database(tmp_path / "dev_databases" / "league" / "league.sqlite")


# (reply's SQL, correct, status): each case of the issue, on the database above against GOLD
CASES = {
    "correct": (GOLD, True, "ok"),
    "reordered rows": ("SELECT name, team FROM player WHERE team = 'red' ORDER BY name DESC", True, "ok"),
    "duplicate rows": ("SELECT p.name, p.team FROM player p, player q WHERE p.team = 'red' AND q.id < 3",
                       True, "ok"),  # every row twice: a set equals the gold's
    "reordered columns": ("SELECT team, name FROM player WHERE team = 'red'", False, "ok"),
    "wrong rows": ("SELECT name, team FROM player", False, "ok"),
    "syntax error": ("SELEC name FROM player", False, "error"),
    "write attempt": ("DROP TABLE player", False, "error"),
    "attach": ("ATTACH DATABASE 'other.sqlite' AS other", False, "error"),
    "pragma": ("PRAGMA query_only = OFF", False, "error"),
    "two statements": ("SELECT 1; DELETE FROM player", False, "error"),
}


@pytest.mark.parametrize("case", CASES)
def test_each_kind_of_reply_gets_its_verdict(database, case):
    sql, correct, status = CASES[case]
    result = compare(sql, GOLD, str(database))
    assert (result["correct"], result["status"]) == (correct, status), result
    before = database.read_bytes()
    assert sqlite3.connect(database).execute("SELECT count(*) FROM player").fetchone() == (5,)
    assert database.read_bytes() == before


def test_a_write_is_refused_and_the_database_unchanged(database):
    before = hashlib.sha256(database.read_bytes()).hexdigest()
    for sql in ("DROP TABLE player", "DELETE FROM player", "UPDATE player SET team = 'x'",
                "CREATE TABLE t (x)", "INSERT INTO player VALUES (9, 'z', 'z', 0)", "VACUUM"):
        result = compare(sql, GOLD, str(database))
        assert not result["correct"] and result["status"] == "error", (sql, result)
    assert not (database.parent / "other.sqlite").exists()
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before


def test_a_slow_query_is_interrupted_at_the_limit_and_is_wrong(database):
    result = compare(ENDLESS, GOLD, str(database), timeout=0.5)
    assert result == {"correct": False, "status": "timeout", "message": "predicted query: over 0.5 s"}


def test_the_limit_covers_both_queries_as_the_reference_does(database):
    result = compare(GOLD, ENDLESS, str(database), timeout=0.5)  # a gold query past the limit: wrong as well
    assert (result["correct"], result["status"]) == (False, "timeout")


def test_a_huge_result_fails_on_memory_in_its_worker_and_the_pool_goes_on(database):
    # a cross join of five tables of 5 rows... to 390,625 rows per level: a 100 MiB address space cannot hold it
    huge = "SELECT * FROM player a, player b, player c, player d, player e, player f, player g, player h"
    pool = QueryPool(workers=1, memory_bytes=200 * 2**20)
    try:
        result = asyncio.run(pool.compare(huge, GOLD, str(database), timeout=60))
        assert (result["correct"], result["status"]) == (False, "memory"), result
        again = asyncio.run(pool.compare(GOLD, GOLD, str(database)))
        assert again["correct"] is True
    finally:
        pool.close()


def test_queries_run_in_parallel_workers(database):
    pool = QueryPool(workers=2)

    async def side_by_side(sql, timeout):
        return await asyncio.gather(*(pool.compare(sql, GOLD, str(database), timeout=timeout) for _ in range(2)))

    try:
        asyncio.run(side_by_side("SELECT 1", 30))  # both workers started
        start = time.monotonic()
        outcomes = asyncio.run(side_by_side(ENDLESS, 2.0))
        elapsed = time.monotonic() - start
    finally:
        pool.close()
    assert [outcome["status"] for outcome in outcomes] == ["timeout", "timeout"]
    assert elapsed < 3.5  # two 2 s queries at once; one after the other would take 4 s


@pytest.mark.parametrize(("reply", "sql"), [
    ("The answer:\n```sql\nSELECT a\n  FROM t -- the table\nWHERE b = 1\n```", "SELECT a FROM t WHERE b = 1"),
    ("```sql\nSELECT 1\n```\nthen better:\n```sql\nSELECT 2\n```", "SELECT 2"),
    ("no code at all", "SELECT 1"),
    ("```\nSELECT 3\n```", "SELECT 1"),  # a fence without `sql` is not taken
    ("```sql**Final:** SELECT 4\n```", "SELECT 4"),  # a header right after the fence is dropped
    ("```sql\n**Final:** SELECT 4\n```", "**Final:** SELECT 4"),  # not after a newline (as upstream)
    ("```sql\n123\n```", "SELECT 1"),  # a block without a letter is not SQL
])
def test_sql_taken_from_a_reply(reply, sql):
    assert extract_sql(reply) == sql


def test_prompt_is_the_text_to_sql_config(database):
    row = prepare_rows([{"question": "Who plays for red?", "SQL": GOLD, "difficulty": "simple", "db_id": "league"}],
                       database.parent.parent)[0]
    system, user = prompt(row)
    assert system == {"role": "system", "content": 'Please reason step by step, and put your final answer within '
                                                   'the tags "```sql" and "```".'}
    assert user["content"].startswith("### Question\nWho plays for red?\n\nThe following is a SQL dump that "
                                      "describes the database and the tables in it.\nBEGIN TRANSACTION;\n")
    assert user["content"].endswith("COMMIT;\n\n\nConvert the question above to a SQL query for the database given."
                                    " Use the answer tags given.\nIf there is more than one set of tags, the last "
                                    "one will be taken as your final answer.\n\n### Answer:")
    assert row["gt_sql"] == GOLD and row["id"] == 0 and "evidence" not in row


def zipped_dev(tmp_path: Path) -> Path:
    """A dev.zip in BIRD's layout: dev_20240627/dev.json and dev_20240627/dev_databases.zip."""
    build_database(tmp_path / "src" / "league" / "league.sqlite")
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.write(tmp_path / "src" / "league" / "league.sqlite", "dev_databases/league/league.sqlite")
    questions = [{"question_id": 0, "db_id": "league", "question": "Who plays for red?", "evidence": "",
                  "SQL": GOLD, "difficulty": "simple"}]
    path = tmp_path / "dev.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("dev_20240627/dev.json", json.dumps(questions))
        archive.writestr("dev_20240627/dev_databases.zip", inner.getvalue())
    return path


def test_dev_zip_is_downloaded_once_then_read_from_the_cache(tmp_path, capsys):
    source = BirdDev(root=tmp_path / "cache", url=zipped_dev(tmp_path).as_uri())
    rows = source.load(None)
    assert [row["question"] for row in rows] == ["Who plays for red?"] and "CREATE TABLE player" in rows[0]["sql_context"]
    messages = capsys.readouterr().err
    assert "bird: downloading" in messages and "(100 %)" in messages and "preparing the prompts of 1" in messages
    recorded = (tmp_path / "cache" / "dev.zip.sha256").read_text().strip()
    assert recorded == hashlib.sha256((tmp_path / "dev.zip").read_bytes()).hexdigest()
    assert (tmp_path / "cache" / "dev_20240627" / "dev_databases" / "league" / "league.sqlite").is_file()
    (tmp_path / "dev.zip").unlink()  # gone from the "server": the cache must do
    assert BirdDev(root=tmp_path / "cache", url=(tmp_path / "dev.zip").as_uri()).load(None) == rows
    assert capsys.readouterr().err == ""


def test_an_unreachable_download_is_one_line(tmp_path):
    with pytest.raises(DataError, match=r"could not download .*dev.zip.*--data-dir DIR \(DIR/bird.jsonl and "
                                        r"DIR/bird/dev_databases/<db>/<db>.sqlite\)"):
        BirdDev(root=tmp_path / "cache", url=(tmp_path / "missing" / "dev.zip").as_uri()).load(None)
    assert not any((tmp_path / "cache").glob("*.part"))


def test_a_cached_archive_that_changed_is_refused(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "dev.zip").write_bytes(b"truncated")
    (cache / "dev.zip.sha256").write_text("0" * 64)
    with pytest.raises(DataError, match="does not match its recorded sha256: delete .* to download it again"):
        BirdDev(root=cache, url="http://127.0.0.1:9/never").load(None)


# ---- the suite end to end: one question per case, the reply scripted by the question's marker

REPLIES = {
    "correct": f"Sure.\n```sql\n{GOLD}\n```",
    "reordered rows": "```sql\nSELECT name, team FROM player WHERE team = 'red' ORDER BY id DESC\n```",
    "duplicate rows": "```sql\nSELECT p.name, p.team FROM player p JOIN player q ON q.team = p.team "
                      "WHERE p.team = 'red'\n```",
    "no code block": "SELECT name, team FROM player WHERE team = 'red'",
    "syntax error": "```sql\nSELECT name team FROM WHERE\n```",
    "write attempt": "```sql\nDROP TABLE player\n```",
    "slow query": f"```sql\n{ENDLESS}\n```",
}
EXPECTED = {"correct": (True, "ok"), "reordered rows": (True, "ok"), "duplicate rows": (True, "ok"),
            "no code block": (False, "ok"), "syntax error": (False, "error"), "write attempt": (False, "error"),
            "slow query": (False, "timeout")}
DIFFICULTY = ["simple", "simple", "moderate", "moderate", "challenging", "challenging", "challenging"]


def test_suite_end_to_end_with_each_kind_of_reply(pytester, mock_server):
    copy_suites(pytester, "bird")
    data = pytester.path / "data"
    database = build_database(data / "bird" / "dev_databases" / "league" / "league.sqlite")
    before = database.read_bytes()
    questions = [{"question": f"QUESTION <{case}>", "SQL": GOLD, "difficulty": difficulty, "db_id": "league"}
                 for case, difficulty in zip(REPLIES, DIFFICULTY)]
    rows = prepare_rows(questions, data / "bird" / "dev_databases")
    (data / "bird.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (pytester.path / "replies.json").write_text(json.dumps([[f"<{case}>", reply] for case, reply in REPLIES.items()]))
    model = mock_server("--answers", str(pytester.path / "replies.json"))
    result = pytester.runpytest_subprocess("suites/test_bird.py", "--endpoint", model.url, "--data-dir", "data",
                                           "--set", "benchmarks.bird.data.timeout=1")
    assert result.ret == 0, result.stdout.str()
    by_case = {row["sample_id"]: row for row in samples(pytester, "bird")}
    for index, case in enumerate(REPLIES):
        row = by_case[index]
        assert (row["verdict"] == "correct", row["execution"]) == EXPECTED[case], (case, row)
    assert by_case[3]["extracted"] == "SELECT 1"
    assert by_case[6]["message"] == "predicted query: over 1 s"
    bird = results(pytester)["benchmarks"]["bird"]
    assert bird["metrics"]["accuracy"]["value"] == pytest.approx(3 / 7)
    breakdown = bird["categories"]
    assert breakdown["field"] == "difficulty"
    assert {name: group["metrics"]["accuracy"]["value"] for name, group in breakdown["by"].items()} == \
        pytest.approx({"simple": 1.0, "moderate": 0.5, "challenging": 0.0})
    assert database.read_bytes() == before
