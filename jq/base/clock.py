"""The clock jq reads to decide when a scheduled job is due.

``enqueue_in`` and :class:`~jq.retry.Retry` intervals compute due times from it, and schedulers
(:class:`jq.scheduler.Scheduler`, a worker's ``with_scheduler``) queue the jobs whose due time it
has reached. It is the wall clock, :func:`time.time`, unless something replaces it with
:func:`use_scheduling_clock`: the ``jq_clock`` fixture of jq's pytest plugin does, so that a test
can say "ten minutes later" and see the jobs due by then run, without sleeping and without
touching :func:`time.time` for the rest of the program.

Only due times follow this clock. Record and result TTLs, leases, heartbeats and the timestamps
stored on jobs (``enqueued_at``, ``ended_at``...) keep real time, on every broker.
``enqueue_at(datetime)`` takes the moment as given: compare it with :func:`scheduling_now`.
"""

from __future__ import annotations

import contextlib
import datetime
import threading
import time
from collections.abc import Callable, Iterator

__all__ = ["scheduling_now", "scheduling_time", "use_scheduling_clock"]

# One clock for the whole process, not per thread or context: a worker or scheduler thread that
# a test starts must see the same time as the test itself. A one-item list, replaced in place.
_source: list[Callable[[], float]] = [time.time]
_lock = threading.Lock()


def scheduling_time() -> float:
    """Now, in seconds since the epoch, as jq's schedulers and due times see it."""
    return _source[0]()


def scheduling_now() -> datetime.datetime:
    """:func:`scheduling_time` as a timezone-aware UTC datetime."""
    return datetime.datetime.fromtimestamp(_source[0](), datetime.timezone.utc)


@contextlib.contextmanager
def use_scheduling_clock(source: Callable[[], float]) -> Iterator[None]:
    """Within the block, due times come from ``source()`` (seconds since the epoch) instead of
    :func:`time.time`; the previous clock comes back on exit. Blocks nest.

    For tests: the clock is process-wide, so two blocks must not overlap in different threads.
    """
    if not callable(source):
        raise TypeError(f"a scheduling clock is a function returning seconds since the epoch, not {source!r}")
    with _lock:
        previous, _source[0] = _source[0], source
    try:
        yield
    finally:
        with _lock:
            _source[0] = previous
