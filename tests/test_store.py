"""The plan in the response store: a driver row's sample is stored once, however many repeats it has."""

from __future__ import annotations

from pathlib import Path

from pytest_nemoeval.engine.store import ResponseStore


def test_a_driver_sample_is_stored_once_for_all_its_repeats(tmp_path: Path):
    big = {"question": "q", "private_tests": "x" * 1_000_000}  # LiveCodeBench-sized tests
    driver = {"path": "suites/test_x.py", "function": "solve"}
    rows = [(f"key-{repeat}", "hash", {"driver": driver, "sample": big, "messages": [], "model": "m",
                                       "generation": {}, "repeat": repeat}) for repeat in range(8)]
    rows.append(("plain", "hash", {"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
    store = ResponseStore(tmp_path / "cache.sqlite", "run-1")
    assert store.publish_plan(rows)

    planned = list(store.iter_plan())
    assert [payload for _, _, payload in planned] == [payload for _, _, payload in rows]
    connection = store._connect()
    assert connection.execute("SELECT count(*) FROM samples").fetchone()[0] == 1
    assert connection.execute("SELECT sum(length(payload)) FROM plan").fetchone()[0] < 10_000

    store.forget_run()
    assert connection.execute("SELECT count(*) FROM samples").fetchone()[0] == 0
    store.close()
