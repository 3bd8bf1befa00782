"""jq.worker.horse was split in three modules (the process, the fork-per-job strategy, the reused
horse): the names it exported before the split still import from it, as the same objects."""

from __future__ import annotations

import importlib

import pytest

#: What ``jq.worker.horse.__all__`` listed before the split, and where each lives now.
EXPORTED_BEFORE = {
    "DeadHorseHost": "jq.worker.horse",
    "ForkPerJobExecution": "jq.worker.horse",
    "ForkedHorseHost": "jq.worker.horse",
    "HorseHost": "jq.worker.horse",
    "HorseProcess": "jq.worker.horse_process",
    "HorseWatcher": "jq.worker.horse",
    "ReusedHorseExecution": "jq.worker.reused_horse",
    "ReusedHorseHost": "jq.worker.horse",
    "ServingHorseHost": "jq.worker.horse",
    "WorkHorseExecution": "jq.worker.horse",
    "die_with_parent": "jq.worker.horse_process",
}


@pytest.mark.parametrize("name", sorted(EXPORTED_BEFORE))
def test_a_name_exported_before_the_split_still_imports_from_jq_worker_horse(name: str):
    horse = importlib.import_module("jq.worker.horse")
    home = importlib.import_module(EXPORTED_BEFORE[name])
    assert getattr(horse, name) is getattr(home, name)
    assert name in horse.__all__
