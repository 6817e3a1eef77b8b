"""ResponseStore: the run's requests and responses on disk (sqlite, WAL), shared by every process of a run.

- plan: every selected item's request in item order (a driver row's sample stored once for all its
  repeats), written once at collection finish (by the first process to finish collecting); the engine
  streams it from here, so payloads are never all in memory.
- responses: keyed by request key; with the cache on the file persists in the results directory, so a
  rerun after a crash or `kill -9` sends nothing that had finished. Each row commits on its own.
- failures: per run, why a request has no response; the markers DEAD and STOPPED apply to every request.

The engine holds a lock (flock) beside the store while it runs: an item waiting for its response sees
when the engine is gone (exited, killed, crashed) even if nothing marked the run STOPPED.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from pytest_nemoeval import flock
from pytest_nemoeval.errors import EndpointDown, GenerationError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS failures (run TEXT NOT NULL, key TEXT NOT NULL, error TEXT NOT NULL,
                                     PRIMARY KEY (run, key));
CREATE TABLE IF NOT EXISTS plan (run TEXT NOT NULL, position INTEGER NOT NULL, key TEXT NOT NULL,
                                 prompt_hash TEXT NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (run, position));
CREATE TABLE IF NOT EXISTS samples (run TEXT NOT NULL, ref TEXT NOT NULL, sample TEXT NOT NULL,
                                    PRIMARY KEY (run, ref));
"""
SAMPLE_REF = "$sample"  # a driver row's sample, stored once for all its repeats (see publish_plan)
POLL_CAP = 0.02  # longest pause between two looks at the store while an item waits
LIVENESS_EVERY = 1.0  # seconds between two checks, while an item waits, that the engine is still there
DEAD = "*dead"  # the endpoint is down: nothing more will be sent
STOPPED = "*stopped"  # generation was cancelled (-x, --maxfail, Ctrl-C) or the engine failed
PAGE = 256


def store_path(results_dir: Path, run_id: str, cache: bool) -> Path:
    """The run's store: the persistent response cache, or (--no-cache) a file of this run's alone."""
    return results_dir / ".nemoeval" / ("cache.sqlite" if cache else f"run-{run_id}.sqlite")


def status_path(results_dir: Path, run_id: str) -> Path:
    """Where the engine keeps the run's status line (engine/progress.py)."""
    return results_dir / ".nemoeval" / f"status-{run_id}"


class ResponseStore:
    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connect().executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
        return connection

    # -- plan -----------------------------------------------------------------------------------------

    def publish_plan(self, requests: Iterable[tuple[str, str, dict[str, Any]]]) -> bool:
        """Write the run's (key, prompt hash, payload) list in one transaction, unless another process did."""
        connection = self._connect()
        connection.execute("BEGIN IMMEDIATE")
        try:
            if connection.execute("SELECT 1 FROM plan WHERE run = ? LIMIT 1", (self.run_id,)).fetchone():
                connection.execute("ROLLBACK")
                return False
            self._insert(connection, requests, 0)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return True

    def append_plan(self, requests: Iterable[tuple[str, str, dict[str, Any]]]) -> int:
        """More requests after the published plan (--until-decided's extra repeats): the position of the first."""
        connection = self._connect()
        connection.execute("BEGIN IMMEDIATE")
        try:
            first = connection.execute("SELECT count(*) FROM plan WHERE run = ?", (self.run_id,)).fetchone()[0]
            self._insert(connection, requests, first)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return int(first)

    def _insert(self, connection: sqlite3.Connection, requests: Iterable[tuple[str, str, dict[str, Any]]],
                first: int) -> None:
        for position, (key, digest, payload) in enumerate(requests, first):
            if "driver" in payload:  # its row may be large (LiveCodeBench's tests): once, not once per repeat
                text = json.dumps(payload["sample"], ensure_ascii=False, sort_keys=True)
                ref = hashlib.sha256(text.encode()).hexdigest()
                connection.execute("INSERT OR IGNORE INTO samples (run, ref, sample) VALUES (?, ?, ?)",
                                   (self.run_id, ref, text))
                payload = {**payload, "sample": {SAMPLE_REF: ref}}
            connection.execute("INSERT INTO plan (run, position, key, prompt_hash, payload) VALUES (?, ?, ?, ?, ?)",
                               (self.run_id, position, key, digest, json.dumps(payload, ensure_ascii=False)))

    def plan_size(self) -> int:
        return self._connect().execute("SELECT count(*) FROM plan WHERE run = ?", (self.run_id,)).fetchone()[0]

    def planned(self, position: int) -> tuple[str, str]:
        """(request key, prompt hash) of the item at `position`."""
        row = self._connect().execute("SELECT key, prompt_hash FROM plan WHERE run = ? AND position = ?",
                                      (self.run_id, position)).fetchone()
        if row is None:
            raise LookupError(f"no planned request at position {position}")
        return row[0], row[1]

    def iter_plan(self, first: int = 0) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """(position, key, payload) in order from `first`, a page at a time (no statement stays open across yields)."""
        position = first
        last: tuple[str, dict[str, Any]] | None = None  # the repeats of a sample are consecutive
        while True:
            rows = self._connect().execute(
                "SELECT position, key, payload FROM plan WHERE run = ? AND position >= ? ORDER BY position LIMIT ?",
                (self.run_id, position, PAGE)).fetchall()
            for row in rows:
                payload = json.loads(row[2])
                ref = payload["sample"].get(SAMPLE_REF) if "driver" in payload else None
                if ref is not None:
                    if last is None or last[0] != ref:
                        last = (ref, self._sample(ref))
                    payload["sample"] = last[1]
                yield row[0], row[1], payload
            if len(rows) < PAGE:
                return
            position = rows[-1][0] + 1

    def _sample(self, ref: str) -> dict[str, Any]:
        row = self._connect().execute("SELECT sample FROM samples WHERE run = ? AND ref = ?",
                                      (self.run_id, ref)).fetchone()
        if row is None:
            raise LookupError(f"the plan names a sample {ref[:12]} that the store does not hold")
        return json.loads(row[0])

    # -- responses and failures -----------------------------------------------------------------------

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._connect().execute("SELECT body FROM responses WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def has(self, key: str) -> bool:
        return self._connect().execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone() is not None

    def put(self, key: str, body: dict[str, Any]) -> None:
        self._connect().execute("INSERT OR REPLACE INTO responses (key, body) VALUES (?, ?)",
                                (key, json.dumps(body, ensure_ascii=False)))

    def fail(self, key: str, error: str, replace: bool = True) -> None:
        """Record why `key` (or every request, for a marker) has no response; `replace=False` keeps an
        earlier reason (the first word on why a run stopped is the one items show)."""
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        self._connect().execute(f"{verb} INTO failures (run, key, error) VALUES (?, ?, ?)", (self.run_id, key, error))

    def failure(self, key: str) -> tuple[str, str] | None:
        """(key or marker, error) if this request failed or the whole run stopped; the request's own wins."""
        row = self._connect().execute(
            "SELECT key, error FROM failures WHERE run = ? AND key IN (?, ?, ?) ORDER BY key = ? DESC LIMIT 1",
            (self.run_id, key, DEAD, STOPPED, key)).fetchone()
        return (row[0], row[1]) if row else None

    def resume(self) -> None:
        """Drop the STOPPED marker a finished engine left, before another engine sends appended requests."""
        self._connect().execute("DELETE FROM failures WHERE run = ? AND key = ?", (self.run_id, STOPPED))

    def forget_run(self) -> None:
        """Drop this run's plan and failures; responses stay (they are the cache)."""
        connection = self._connect()
        connection.execute("DELETE FROM plan WHERE run = ?", (self.run_id,))
        connection.execute("DELETE FROM samples WHERE run = ?", (self.run_id,))
        connection.execute("DELETE FROM failures WHERE run = ?", (self.run_id,))

    # -- the engine's liveness -------------------------------------------------------------------------

    def engine_lock_path(self) -> Path:
        return self.path.parent / f"engine-{self.run_id}.lock"

    def hold_engine_lock(self) -> flock.HeldLock | None:
        """Taken by the engine for its lifetime (the kernel drops it when the engine dies)."""
        return flock.try_hold(self.engine_lock_path(), f"pid {os.getpid()}")

    def engine_gone(self) -> bool:
        """The engine started and is no longer running (before it starts there is no lock file)."""
        path = self.engine_lock_path()
        return path.exists() and not flock.is_held(path)

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


def wait_for(store: ResponseStore, key: str, idle: Callable[[], None] | None = None) -> dict[str, Any]:
    """Block until the response for `key` is in the store and return it, or raise GenerationError (also when
    the engine is gone without a word); `idle` is called between two looks (the status line)."""
    delay = 0.001
    next_check = time.monotonic() + LIVENESS_EVERY
    while True:
        if idle is not None:
            idle()
        body = store.get(key)
        if body is not None:
            return body
        failure = store.failure(key)
        if failure is None and time.monotonic() >= next_check:
            next_check = time.monotonic() + LIVENESS_EVERY
            if store.engine_gone():
                failure = (STOPPED, "the generation engine is gone: it exited without answering this item")
        if failure is not None:
            body = store.get(key)  # answered between the two looks, just before the engine stopped
            if body is not None:
                return body
            marker, error = failure
            raise EndpointDown(error) if marker == DEAD else GenerationError(error)
        time.sleep(delay)
        delay = min(delay * 2, POLL_CAP)
