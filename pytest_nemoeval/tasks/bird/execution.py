"""BIRD's execution check: the predicted and the gold SQL run on the question's SQLite database, and their
result rows compared as sets.

Semantics from NeMo Skills (NVIDIA-NeMo/Skills 66aace8b, nemo_skills/evaluation/evaluator/bird.py, after
AlibabaResearch/DAMO-ConvAI bird/llm/src/evaluation.py): the predicted query then the gold one on one
connection, each `fetchall()`, correct when `set(predicted) == set(gold)`; 30 s for both together
(`func_timeout` around the pair); any error (syntax, timeout, a failing gold query) is incorrect.

What is added here, because the SQL is model-written: the database is opened read-only (URI `mode=ro`,
`PRAGMA query_only`, and an authorizer that allows reads and functions only, so no write, ATTACH or PRAGMA);
the time limit interrupts SQLite itself (a progress handler), so a runaway query stops instead of running on
in a thread as func_timeout leaves it; memory is bounded per query. Queries run in worker processes, one per
core: a process is the only unit RLIMIT_AS bounds (a huge cross join fails there with MemoryError, not in
the engine), and rows are built into Python tuples under the GIL, so threads would not scale.
"""

from __future__ import annotations

import asyncio
import atexit
import multiprocessing
import os
import resource
import sqlite3
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

TIMEOUT = 30.0  # seconds for the predicted and the gold query together (BirdEvaluatorConfig.timeout)
MEMORY_BYTES = 4 * 2**30  # each worker's address space: the largest gold results of BIRD dev are far below
SQLITE_HEAP_BYTES = 2 * 2**30  # SQLite's own allocations (sorts, temp b-trees kept in memory) fail past this
_PROGRESS_STEPS = 10_000  # SQLite VM steps between two looks at the clock (well under a millisecond)
# authorizer actions a query may need: reading tables and columns, functions (incl. window and aggregate),
# recursive CTEs; everything else (writes, DDL, ATTACH/DETACH, PRAGMA, transactions) is denied
_ALLOWED = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
                      sqlite3.SQLITE_RECURSIVE})


def _authorize(action: int, *_: Any) -> int:
    return sqlite3.SQLITE_OK if action in _ALLOWED else sqlite3.SQLITE_DENY


def _limit_memory(memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def open_read_only(database: str | Path) -> sqlite3.Connection:
    """The database opened read-only, with writes, ATTACH and PRAGMA refused. For a worker process only: SQLite's
    heap cap it sets holds for every connection of the process (the engine's response store has its own)."""
    connection = sqlite3.connect(f"{Path(database).resolve().as_uri()}?mode=ro", uri=True)
    connection.execute("PRAGMA query_only = ON")
    connection.execute("PRAGMA temp_store = MEMORY")  # a huge sort spills to memory (bounded), not to /tmp
    connection.execute(f"PRAGMA hard_heap_limit = {SQLITE_HEAP_BYTES}")
    connection.set_authorizer(_authorize)
    return connection


def compare(predicted: str, gold: str, database: str, timeout: float = TIMEOUT) -> dict[str, Any]:
    """Run both queries and compare their rows as sets: {"correct", "status" (ok | error | timeout | memory),
    "message", "rows" (predicted), "gold_rows"}. Runs in the calling process (a worker of QueryPool)."""
    if not Path(database).is_file():
        return {"correct": False, "status": "error", "message": f"no database file {database}"}
    deadline = time.monotonic() + timeout
    stage = "predicted"
    connection = None
    try:
        connection = open_read_only(database)
        connection.set_progress_handler(lambda: time.monotonic() > deadline, _PROGRESS_STEPS)
        cursor = connection.cursor()
        cursor.execute(predicted)
        predicted_rows = cursor.fetchall()
        stage = "gold"
        cursor.execute(gold)
        gold_rows = cursor.fetchall()
        return {"correct": set(predicted_rows) == set(gold_rows), "status": "ok", "message": "",
                "rows": len(predicted_rows), "gold_rows": len(gold_rows)}
    except MemoryError:
        return {"correct": False, "status": "memory", "message": f"{stage} query: out of memory"}
    except sqlite3.Error as exc:
        if time.monotonic() > deadline:
            return {"correct": False, "status": "timeout", "message": f"{stage} query: over {timeout:g} s"}
        return {"correct": False, "status": "error", "message": f"{stage} query: {exc}"[:300]}
    finally:
        if connection is not None:
            connection.close()


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class QueryPool:
    """Worker processes (one per core by default), each with its address space bounded, running `compare`."""

    def __init__(self, workers: int | None = None, memory_bytes: int = MEMORY_BYTES) -> None:
        self.workers = workers or cores()
        self.memory_bytes = memory_bytes
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn: the engine process runs threads (the event loop's executors); forking them is unsafe
            self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_limit_memory, initargs=(self.memory_bytes,))
        return self._executor

    async def compare(self, predicted: str, gold: str, database: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        for attempt in range(2):  # a worker that died (a crash, not a Python error) takes its pool down: once more
            pool = self._pool()
            try:
                return await loop.run_in_executor(pool, compare, predicted, gold, database, timeout)
            except BrokenProcessPool:
                if self._executor is pool:
                    self._executor = None
                    pool.shutdown(wait=False, cancel_futures=True)
        return {"correct": False, "status": "error", "message": "the query's worker process died"}

    def close(self) -> None:
        """Stop the workers (a running query ends within its time limit); waiting lets them exit cleanly."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


_SHARED: QueryPool | None = None


def shared_pool() -> QueryPool:
    """The process's one pool (the engine process runs every item's driver), closed at exit."""
    global _SHARED
    if _SHARED is None:
        _SHARED = QueryPool()
        atexit.register(_SHARED.close)
    return _SHARED
