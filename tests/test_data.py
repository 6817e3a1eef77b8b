"""Data loading: through `datasets` (as for the hub) and from --data-dir files, kept compact in memory."""

from __future__ import annotations

import json
import shutil

import pytest

from helpers import MMLU_DATA
from pytest_nemoeval.errors import DataError
from pytest_nemoeval.data import HubDataset, Rows

ORIGINAL = [json.loads(line) for line in MMLU_DATA.read_text().splitlines()]


def test_hub_dataset_loads_through_datasets(tmp_path):
    # a local dataset directory goes through the same datasets.load_dataset call as a hub id
    shutil.copy(MMLU_DATA, tmp_path / "test.jsonl")
    rows = Rows.of(HubDataset(str(tmp_path), split="test").load(limit=5))
    assert len(rows) == 5
    assert [rows[i]["question_id"] for i in range(5)] == [row["question_id"] for row in ORIGINAL[:5]]
    assert rows[3]["options"] == ORIGINAL[3]["options"]


def test_unloadable_dataset_is_one_line(tmp_path):
    with pytest.raises(DataError, match=r"could not load .*nothing-here \(split test\) through datasets: "):
        HubDataset(str(tmp_path / "nothing-here")).load(limit=None)


def test_rows_parse_on_access_and_keep_the_last_one():
    rows = Rows.of(ORIGINAL)
    assert len(rows) == len(ORIGINAL)
    assert rows[7] == ORIGINAL[7]
    assert rows[7] is rows[7]  # the repeats of one sample do not parse it again
    assert rows[8] == ORIGINAL[8]
