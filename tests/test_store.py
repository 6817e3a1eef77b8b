"""The response store: a driver row's sample is stored once, however many repeats it has; an item waiting for
its response sees when the engine is gone."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_nemoeval.engine.store import LIVENESS_EVERY, STOPPED, ResponseStore, wait_for
from pytest_nemoeval.errors import GenerationError


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



def test_requests_appended_after_the_plan_follow_it_and_a_finished_engines_stop_is_lifted(tmp_path: Path):
    """--until-decided: extra repeats are appended to the published plan; the next engine streams from the first
    of them, and the STOPPED marker the last engine's watchdog left no longer fails the items waiting for them."""
    store = ResponseStore(tmp_path / "cache.sqlite", "run-1")
    row = lambda n: (f"key-{n}", "hash", {"model": "m", "messages": [{"role": "user", "content": str(n)}]})  # noqa: E731
    assert store.publish_plan([row(0), row(1)])
    store.fail(STOPPED, "generation engine exited (status 0) before answering this item")
    assert store.append_plan([row(2), row(3)]) == 2 and store.plan_size() == 4
    assert [(position, key) for position, key, _ in store.iter_plan(2)] == [(2, "key-2"), (3, "key-3")]
    assert store.planned(3) == ("key-3", "hash")
    assert store.failure("key-2") is not None
    store.resume()
    assert store.failure("key-2") is None
    store.close()

ENGINE = """
import sys, time
from pathlib import Path
from pytest_nemoeval.engine.store import ResponseStore
store = ResponseStore(Path(sys.argv[1]), "run-1")
lock = store.hold_engine_lock()
print("holding", flush=True)
if sys.argv[2] == "answer":
    time.sleep(0.5)
    store.put("key", {"content": "late"})
time.sleep(float(sys.argv[3]))
"""


def engine(tmp_path: Path, then: str, lives: float) -> subprocess.Popen[str]:
    """A stand-in engine: takes the liveness lock, answers `key` or not, exits after `lives` seconds without
    marking the run stopped (as a crash or a silent exit would)."""
    process = subprocess.Popen([sys.executable, "-c", ENGINE, str(tmp_path / "cache.sqlite"), then, str(lives)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "holding\n"
    return process


def test_an_item_notices_that_the_engine_is_gone_without_a_word(tmp_path: Path):
    store = ResponseStore(tmp_path / "cache.sqlite", "run-1")
    process = engine(tmp_path, "nothing", 1.0)
    started = time.monotonic()
    with pytest.raises(GenerationError, match="the generation engine is gone: it exited without answering"):
        wait_for(store, "key")
    assert 1.0 <= time.monotonic() - started < 1.0 + 2 * LIVENESS_EVERY + 1
    process.wait()


def test_an_answer_written_before_the_engine_exits_is_the_items(tmp_path: Path):
    store = ResponseStore(tmp_path / "cache.sqlite", "run-1")
    process = engine(tmp_path, "answer", 0.0)
    assert wait_for(store, "key") == {"content": "late"}
    process.wait()
    store.fail(STOPPED, "stopped")  # an answer wins over the run's stop marker
    assert wait_for(store, "key") == {"content": "late"}


def test_before_the_engine_starts_an_item_waits(tmp_path: Path):
    store = ResponseStore(tmp_path / "cache.sqlite", "run-1")
    assert not store.engine_gone()  # no lock file yet: not started, not gone
    process = engine(tmp_path, "nothing", 30.0)
    assert not store.engine_gone()
    process.kill()
    process.wait()
    assert store.engine_gone()  # killed: the kernel dropped its lock
