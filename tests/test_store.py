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
