"""ResponseStore: responses on disk (sqlite, WAL), shared by the engine, the items and xdist workers.

With the cache on it persists in the results directory, so a rerun after a crash or `kill -9` sends
nothing that had finished. Each row is committed on its own: a killed process loses nothing committed.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS failures (run TEXT NOT NULL, key TEXT NOT NULL, error TEXT NOT NULL,
                                     PRIMARY KEY (run, key));
"""


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

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._connect().execute("SELECT body FROM responses WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def has(self, key: str) -> bool:
        return self._connect().execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone() is not None

    def put(self, key: str, body: dict[str, Any]) -> None:
        self._connect().execute("INSERT OR REPLACE INTO responses (key, body) VALUES (?, ?)",
                                (key, json.dumps(body)))

    def fail(self, key: str, error: str) -> None:
        self._connect().execute("INSERT OR REPLACE INTO failures (run, key, error) VALUES (?, ?, ?)",
                                (self.run_id, key, error))

    def failure(self, key: str) -> str | None:
        row = self._connect().execute("SELECT error FROM failures WHERE run = ? AND key = ?",
                                      (self.run_id, key)).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
