"""jq.broker.clock: the store's clock as a process reads it, whatever the process's own clock."""

from __future__ import annotations

import time

import pytest

from jq.broker.clock import StoreClock, due_time, due_time_or_none
from jq.clock import use_scheduling_clock
from jq_backends.memory import MemoryBroker
from jq_backends.redis import RedisBroker


class Store:
    """A store's clock at some offset from this machine's, counting its reads."""

    def __init__(self, offset: float) -> None:
        self.offset, self.reads, self.down = offset, 0, False

    def read(self) -> float:
        self.reads += 1
        if self.down:
            raise ConnectionError("store down")
        return time.monotonic() + self.offset


def test_it_follows_the_store_between_checks_and_reads_again_after_recheck(monkeypatch):
    store = Store(offset=1_000_000.0)
    clock = StoreClock(store.read, recheck=60)
    assert clock() == pytest.approx(time.monotonic() + 1_000_000.0, abs=0.01)
    reads = store.reads
    for _ in range(100):
        clock()
    assert store.reads == reads, "no read per call"
    store.offset = 2_000_000.0  # the store's own clock was stepped
    assert clock() == pytest.approx(time.monotonic() + 1_000_000.0, abs=0.01)
    later = time.monotonic() + 61
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert clock() == pytest.approx(later + 2_000_000.0, abs=0.01)


def test_a_check_that_fails_keeps_the_offset_the_first_raises(monkeypatch):
    store = Store(offset=50.0)
    store.down = True
    clock = StoreClock(store.read, recheck=1)
    with pytest.raises(ConnectionError):
        clock()
    store.down = False
    assert clock() == pytest.approx(time.monotonic() + 50.0, abs=0.01)
    store.down = True
    later = time.monotonic() + 5
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert clock() == pytest.approx(later + 50.0, abs=0.01)


def test_the_redis_broker_reads_the_servers_time_not_this_machines(redis_client, monkeypatch):
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 3600)  # this machine's clock is off
    broker = RedisBroker(redis_client)
    seconds, micros = redis_client.time()
    assert broker.now() == pytest.approx(int(seconds) + int(micros) / 1_000_000, abs=0.05)


def test_due_times_follow_an_installed_clock_else_the_stores():
    memory_broker = MemoryBroker()
    assert due_time_or_none() is None
    assert due_time(memory_broker) == pytest.approx(time.time(), abs=0.5)
    with use_scheduling_clock(lambda: 42.0):
        assert due_time_or_none() == 42.0
        assert due_time(memory_broker) == 42.0
