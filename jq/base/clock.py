"""The clock a test installs to decide when a scheduled job is due.

``enqueue_in`` and :class:`~jq.retry.Retry` intervals compute due times from the *store's* clock
(Redis's ``TIME``; see :mod:`jq.broker.clock`), and schedulers (:class:`jq.scheduler.Scheduler`,
a worker's ``with_scheduler``) queue the jobs whose due time the store's clock has reached, so
that processes whose own clocks disagree agree on when a job is due. A test replaces that clock
with :func:`use_scheduling_clock`: the ``jq_clock`` fixture of jq's pytest plugin does, so that a
test can say "ten minutes later" and see the jobs due by then run, without sleeping and without
touching :func:`time.time` for the rest of the program.

Only due times follow an installed clock. Record and result TTLs, leases, heartbeats and the
timestamps stored on jobs (``enqueued_at``, ``ended_at``...) keep real time, on every broker.
``enqueue_at(datetime)`` takes the moment as given (the user's wall-clock intent): compare it with
:func:`scheduling_now`.
"""

from __future__ import annotations

import contextlib
import datetime
import threading
import time
from collections.abc import Callable, Iterator

__all__ = ["installed_clock", "scheduling_now", "scheduling_time", "use_scheduling_clock"]

# One clock for the whole process, not per thread or context: a worker or scheduler thread that
# a test starts must see the same time as the test itself. A one-item list, replaced in place;
# None while no test installed one (due times then follow the store's clock).
_source: list[Callable[[], float] | None] = [None]
_lock = threading.Lock()


def installed_clock() -> Callable[[], float] | None:
    """The clock installed with :func:`use_scheduling_clock`, or None when due times follow the
    store's clock (:func:`jq.broker.clock.due_time`)."""
    return _source[0]


def scheduling_time() -> float:
    """Now, in seconds since the epoch: the installed clock's time, else this process's
    :func:`time.time`. jq's own due times use the store's clock unless a clock is installed."""
    source = _source[0]
    return time.time() if source is None else source()


def scheduling_now() -> datetime.datetime:
    """:func:`scheduling_time` as a timezone-aware UTC datetime."""
    return datetime.datetime.fromtimestamp(scheduling_time(), datetime.timezone.utc)


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
