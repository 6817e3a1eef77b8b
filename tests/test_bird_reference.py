"""BIRD as NeMo Skills runs it: the SQL taken from a reply, the execution verdict and the schema dump in the
prompt, each against NeMo Skills' own code on the same input."""

from __future__ import annotations

import glob
import os
import re
import sqlite3
from pathlib import Path

import pytest

from helpers import ROOT
from pytest_nemoeval.tasks.bird import extract_sql, schema_dump
from pytest_nemoeval.tasks.bird.execution import compare
from test_bird import CASES, GOLD, build_database

# ---- the reference, verbatim from github.com/NVIDIA-NeMo/Skills (Apache-2.0, (c) 2025 NVIDIA CORPORATION;
# execute_sql after AlibabaResearch/DAMO-ConvAI, MIT); oracles for the tests only, never imported by the plugin.


# nemo_skills/evaluation/evaluator/bird.py at 66aace8bd9d2962d027dbf682dda5304542862bb
def execute_sql(predicted_sql, ground_truth, db_path):
    # Connect to the database
    with sqlite3.connect(db_path) as conn:
        cursor = conn.cursor()
        cursor.execute(predicted_sql)
        predicted_res = cursor.fetchall()
        cursor.execute(ground_truth)
        ground_truth_res = cursor.fetchall()
        res = 0
        if set(predicted_res) == set(ground_truth_res):
            res = 1
    return res


# BirdEvaluator._extract_answer, answer_format "CODEBLOCK" (the default), as a function of the text
def _extract_answer(text):
    """Uses the specified format/regex to get the answer from the output text."""
    regex = r"(?:```sql)(.*?[a-zA-Z].*?)(?:```)"
    code_matches = re.findall(regex, text, flags=re.DOTALL)

    if not code_matches:
        return "SELECT 1"  # No-op filler

    # Remove comments first
    ans = re.sub(r"--.*", "", code_matches[-1])  # Use last match
    # Collapse whitespace
    ans = re.sub(r"\s+", " ", ans)
    # Remove miscellaneous headers that snuck in
    ans = re.sub(r"^\*\*.*\*\*", "", ans).strip()

    return ans


# nemo_skills/dataset/birdbench/prepare.py at 74aa4d6d1ffdce811f7cdaedebf681e9fdc11925 (print removed)
def read_tables_file(base_dir):
    """
    Gets each db's information by using sqlite3 to get a table dump.
    """
    tables_info = {}
    all_db_dirs = glob.glob("*", root_dir=os.path.join(base_dir, "dev_databases"))

    for db_dir in all_db_dirs:
        table_info = ""

        # Grab the db's sqlite file & read the dump
        full_db_dir = os.path.join(base_dir, "dev_databases", db_dir)
        sqlite_file = os.path.join(full_db_dir, db_dir + ".sqlite")
        assert os.path.exists(sqlite_file)

        with sqlite3.connect(os.path.join(full_db_dir, db_dir + ".sqlite")) as con:
            con.text_factory = lambda b: b.decode(errors="ignore")
            for line in con.iterdump():
                if line[:6] == "INSERT":
                    line = line.replace("\n", " ")
                line = re.sub(" +", " ", line)
                table_info += line + "\n"

        # Time to truncate any long INSERT chains (allow 10 max at once)
        insert_chain = r"((INSERT.*$\n){10})((INSERT.*\n)*)"
        table_info = re.sub(insert_chain, r"\1\n...\n", table_info, flags=re.MULTILINE)

        # Also get rid of any INSERT INTO * VALUES (...) <- lots of entries (>10)
        many_values = r"(?:VALUES )(((\([^)]*)\)[,;]\s*)){10}(.*)(?:;)"
        table_info = re.sub(many_values, r"...", table_info, flags=re.MULTILINE)

        tables_info[db_dir] = table_info

    return tables_info


# ---- the checks

REPLIES = [
    "```sql\nSELECT a FROM t\n```",
    "reasoning...\n```sql\nSELECT 1\n```\nbetter:\n```sql\n-- final\nSELECT  b\n\tFROM t -- comment\n```",
    "```sql**Answer** SELECT c FROM t```",
    "```sql\n**Answer** SELECT c FROM t\n```",
    "```sql\n\n```\n```sql\n42\n```",
    "```SQL\nSELECT upper FROM t\n```",
    "```sql\nSELECT '--not a comment' FROM t\n```",
    "```sql\nSELECT x FROM t",  # unclosed
    "```sql SELECT y FROM t ``` and ```sql SELECT z FROM t ```",
    "",
    "SELECT name FROM player",
    "```sql\nSELECT \"a\" || '**' || \"b\" ** FROM t\n```",
]


@pytest.mark.parametrize("reply", REPLIES)
def test_sql_taken_from_a_reply_as_nemo_skills_takes_it(reply):
    assert extract_sql(reply) == _extract_answer(reply)


@pytest.mark.parametrize("case", [case for case in CASES if CASES[case][2] == "ok" or case == "syntax error"])
def test_execution_verdict_as_nemo_skills_gives_it(tmp_path, case):
    # on a copy each: the reference opens the database read-write (a write there would change it)
    database = build_database(tmp_path / "league.sqlite")
    sql = CASES[case][0]
    try:
        expected = bool(execute_sql(sql, GOLD, str(database)))
    except sqlite3.Error:
        expected = False  # eval_single: any exception is res = 0
    assert compare(sql, GOLD, str(database))["correct"] is expected


def test_schema_dump_as_prepare_py_writes_it(tmp_path):
    databases = tmp_path / "dev_databases"
    build_database(databases / "league" / "league.sqlite")
    connection = sqlite3.connect(databases / "league" / "league.sqlite")
    connection.executescript(  # runs of INSERT lines longer than 10, a newline inside a value, invalid UTF-8
        "CREATE TABLE event (id INTEGER, note TEXT, raw BLOB);"
        + "".join(f"INSERT INTO event VALUES ({i}, 'line {i}\nmore   spaces', x'00ff');" for i in range(25))
        + "CREATE TABLE 'odd name' (\"VALUES \" TEXT); INSERT INTO 'odd name' VALUES ('VALUES (1), (2)');")
    connection.execute("INSERT INTO event VALUES (99, CAST(x'66ff6f' AS TEXT), NULL)")
    connection.commit()
    connection.close()
    (databases / "superhero").mkdir()
    (databases / "superhero" / "superhero.sqlite").write_bytes(
        (ROOT / "examples/data/bird/dev_databases/superhero/superhero.sqlite").read_bytes())
    expected = read_tables_file(str(tmp_path))
    assert set(expected) == {"league", "superhero"}
    for name, dump in expected.items():
        assert schema_dump(databases / name / f"{name}.sqlite") == dump
    assert "\n...\n" in expected["league"]


def test_shipped_example_rows_carry_the_reference_dump_of_the_shipped_database():
    import json

    dumps = read_tables_file(str(ROOT / "examples/data/bird"))
    rows = [json.loads(line) for line in (ROOT / "examples/data/bird.jsonl").read_text().splitlines()]
    assert rows and all(row["sql_context"] == dumps[row["db_id"]] for row in rows)
