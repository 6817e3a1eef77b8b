"""BIRD: SQL pairs executed per second with every core busy, and the time to prepare the prompts of all 1,534
dev questions, on databases in BIRD's format built here (the real dev.zip is not fetched by a benchmark).

    python benchmarks/bird.py [--rows 50000] [--pairs 600]

Databases: 11 SQLite files of 5 tables each (`--rows` rows per table, text and numeric columns, foreign keys),
as dev_databases/<db>/<db>.sqlite; 1,534 questions spread over them. Prompts: prepare_rows (one schema dump per
database, as NeMo Skills' prepare.py) plus each row's messages. Execution: `--pairs` (predicted, gold) pairs of
BIRD-like queries (joins, GROUP BY, ORDER BY ... LIMIT, COUNT(DISTINCT)), all submitted at once to QueryPool
(one worker per core), against the same pairs run one after the other in this process (no pool): the ratio is
what the pool's parallelism buys net of its inter-process cost.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from pytest_nemoeval.tasks.bird import prepare_rows, prompt
from pytest_nemoeval.tasks.bird.execution import QueryPool, compare, cores

QUESTIONS = 1534
DATABASES = [f"db{index:02d}" for index in range(11)]
QUERIES = [
    "SELECT T1.name, COUNT(T2.id) FROM owner AS T1 INNER JOIN item AS T2 ON T1.id = T2.owner_id "
    "WHERE T1.region = '{region}' GROUP BY T1.name ORDER BY COUNT(T2.id) DESC LIMIT 5",
    "SELECT AVG(T2.price) FROM owner AS T1 INNER JOIN item AS T2 ON T1.id = T2.owner_id WHERE T1.age > {age}",
    "SELECT COUNT(DISTINCT T3.label) FROM item AS T2 INNER JOIN tag AS T3 ON T2.id = T3.item_id "
    "WHERE T2.price BETWEEN {age} AND {age} + 100",
    "SELECT name FROM owner WHERE region = '{region}' AND age = {age}",
    "SELECT T4.city, SUM(T5.amount) FROM place AS T4 INNER JOIN sale AS T5 ON T4.id = T5.place_id "
    "GROUP BY T4.city HAVING SUM(T5.amount) > {age} ORDER BY 2 DESC",
]


def build(directory: Path, rows: int) -> None:
    generator = random.Random(0)
    regions = [f"region {index}" for index in range(40)]
    for name in DATABASES:
        path = directory / name / f"{name}.sqlite"
        path.parent.mkdir(parents=True)
        connection = sqlite3.connect(path)
        connection.executescript(
            "CREATE TABLE owner (id INTEGER PRIMARY KEY, name TEXT, region TEXT, age INTEGER);"
            "CREATE TABLE item (id INTEGER PRIMARY KEY, owner_id INTEGER REFERENCES owner(id), price REAL, "
            "description TEXT);"
            "CREATE TABLE tag (item_id INTEGER REFERENCES item(id), label TEXT);"
            "CREATE TABLE place (id INTEGER PRIMARY KEY, city TEXT, `postal code` TEXT);"
            "CREATE TABLE sale (id INTEGER PRIMARY KEY, place_id INTEGER REFERENCES place(id), amount REAL, "
            "date TEXT);")
        connection.executemany("INSERT INTO owner VALUES (?, ?, ?, ?)", (
            (index, f"owner {index}", generator.choice(regions), generator.randint(18, 90)) for index in range(rows)))
        connection.executemany("INSERT INTO item VALUES (?, ?, ?, ?)", (
            (index, generator.randrange(rows), generator.uniform(0, 1000), f"item {index} " + "x" * 40)
            for index in range(rows)))
        connection.executemany("INSERT INTO tag VALUES (?, ?)", (
            (generator.randrange(rows), f"label {generator.randrange(500)}") for _ in range(rows)))
        connection.executemany("INSERT INTO place VALUES (?, ?, ?)", (
            (index, f"city {index % 300}", f"{index:05d}") for index in range(rows // 10)))
        connection.executemany("INSERT INTO sale VALUES (?, ?, ?, ?)", (
            (index, generator.randrange(rows // 10), generator.uniform(1, 500), f"2012-{index % 12 + 1:02d}-01")
            for index in range(rows)))
        connection.commit()
        connection.close()


def pairs(count: int, directory: Path) -> list[tuple[str, str, str]]:
    generator = random.Random(1)
    chosen = []
    for index in range(count):
        query = QUERIES[index % len(QUERIES)].format(region=f"region {generator.randrange(40)}",
                                                      age=generator.randint(20, 80))
        database = DATABASES[index % len(DATABASES)]
        chosen.append((query, query, str(directory / database / f"{database}.sqlite")))
    return chosen


async def pooled(pool: QueryPool, work: list[tuple[str, str, str]]) -> list[dict]:
    return await asyncio.gather(*(pool.compare(*pair) for pair in work))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000, help="rows per table")
    parser.add_argument("--pairs", type=int, default=600)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nemoeval-bird-") as temporary:
        directory = Path(temporary) / "dev_databases"
        started = time.perf_counter()
        build(directory, args.rows)
        size = sum(path.stat().st_size for path in directory.rglob("*.sqlite"))
        print(f"built {len(DATABASES)} databases, {size / 2**20:.0f} MiB, in {time.perf_counter() - started:.1f} s")

        questions = [{"question": f"question {index}?", "SQL": "SELECT 1", "difficulty": "simple",
                      "db_id": DATABASES[index % len(DATABASES)]} for index in range(QUESTIONS)]
        started = time.perf_counter()
        rows = prepare_rows(questions, directory)
        messages = [prompt(row) for row in rows]
        elapsed = time.perf_counter() - started
        print(f"prompts of {len(messages)} questions prepared in {elapsed:.2f} s "
              f"({len(messages[0][1]['content'])} characters each)")

        work = pairs(args.pairs, directory)
        started = time.perf_counter()
        sequential = [compare(*pair) for pair in work]
        one_process = time.perf_counter() - started
        pool = QueryPool()
        try:
            asyncio.run(pooled(pool, work[: pool.workers]))  # the workers started
            started = time.perf_counter()
            parallel = asyncio.run(pooled(pool, work))
            pooled_seconds = time.perf_counter() - started
        finally:
            pool.close()
        assert all(result["correct"] for result in sequential + parallel)
        print(f"one process, one query at a time: {2 * len(work) / one_process:.0f} queries/s")
        print(f"QueryPool, {pool.workers} workers (cores {cores()}): {2 * len(work) / pooled_seconds:.0f} queries/s "
              f"({len(work) / pooled_seconds:.0f} pairs/s), ratio {one_process / pooled_seconds:.2f}x")


if __name__ == "__main__":
    main()
