"""The store's clock as one process reads it: the one clock that times compared across processes
follow.

Leases, heartbeats, due times, cron ticks and the expiry scores of registries are compared by
processes on different machines, whose own clocks may disagree by minutes. jq takes every such
time from the store's clock (:meth:`jq.broker.Broker.now`): Redis's ``TIME``, the process's
clock for the memory store, the machine's for SQLite. A driver whose store is remote reads it
with :class:`StoreClock`: one read of the store's time, followed from there with the local
monotonic clock (which a change of the wall clock does not move), read again every
:data:`RECHECK_SECONDS` so that a step of the store's own clock is followed too. No call per job.

:func:`due_time` is the clock that due times follow: the store's, unless a test installed its
own with :func:`jq.clock.use_scheduling_clock` (the ``jq_clock`` fixture), which then stands for
every process of the test.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from jq.base.clock import installed_clock

if TYPE_CHECKING:
    from jq.broker.base import Broker

__all__ = ["RECHECK_SECONDS", "StoreClock", "due_time", "due_time_or_none"]

logger = logging.getLogger(__name__)

#: How often a :class:`StoreClock` reads the store's time again (seconds).
RECHECK_SECONDS = 60.0
#: How many reads of the store's time one check makes, keeping the one with the shortest round trip.
SAMPLES = 3


class StoreClock:
    """A remote store's clock read once, then followed with :func:`time.monotonic`.

    :param read: reads the store's time now (seconds since the epoch); one round trip.
    :param recheck: seconds after which the next call reads it again.

    The offset is taken at the middle of a read's round trip, so it is off by at most half a
    round trip; of :data:`SAMPLES` reads, the quickest counts. A check that fails keeps the
    offset it had (the store's clock does not jump because the store is unreachable); the first
    one raises what ``read`` raised.
    """

    def __init__(self, read: Callable[[], float], recheck: float = RECHECK_SECONDS) -> None:
        self._read = read
        self._recheck = recheck
        self._lock = threading.Lock()
        self._offset: float | None = None
        self._read_at = 0.0

    def __call__(self) -> float:
        """The store's time now, in seconds since the epoch."""
        local = time.monotonic()
        offset = self._offset
        if offset is None or local - self._read_at >= self._recheck:
            offset = self._refresh(offset)
            local = time.monotonic()
        return local + offset

    def _refresh(self, offset: float | None) -> float:
        with self._lock:
            if self._offset is not None and time.monotonic() - self._read_at < self._recheck:
                return self._offset  # another thread read it meanwhile
            try:
                self._offset = self._sample()
            except Exception:
                if offset is None:
                    raise
                logger.debug("could not read the store's clock again; keeping the last offset", exc_info=True)
                self._read_at = time.monotonic()
                return offset
            self._read_at = time.monotonic()
            return self._offset

    def _sample(self) -> float:
        """The offset from the quickest of :data:`SAMPLES` reads (the first read may also open a
        connection, which would widen its round trip and so the offset's error)."""
        best: tuple[float, float] | None = None
        for _ in range(SAMPLES):
            before = time.monotonic()
            store_time = self._read()
            after = time.monotonic()
            if best is None or after - before < best[0]:
                best = (after - before, store_time - (before + after) / 2)
        assert best is not None
        return best[1]

    def forget(self) -> None:
        """Read the store's time again at the next call (after a failover to another server)."""
        with self._lock:
            self._offset = None


def due_time(broker: Broker) -> float:
    """Now, as due times on ``broker`` count it: a test's installed clock, else the store's."""
    clock = installed_clock()
    return broker.now() if clock is None else clock()


def due_time_or_none() -> float | None:
    """A test's installed clock's time, else None: for calls whose ``now`` defaults to the store's
    clock read inside the store's own step (:meth:`Broker.promote_scheduled`)."""
    clock = installed_clock()
    return None if clock is None else clock()
