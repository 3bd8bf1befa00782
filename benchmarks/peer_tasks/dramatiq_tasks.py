"""The benchmark jobs as dramatiq actors on a default ``RedisBroker``.

The worker runs as ``dramatiq benchmarks.peer_tasks.dramatiq_tasks --processes 1``.
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from benchmarks.peer_tasks import record, redis_url

#: Default middleware (AgeLimit, TimeLimit, ShutdownNotifications, Callbacks, Pipelines, Retries).
broker = RedisBroker(url=redis_url())
dramatiq.set_broker(broker)


@dramatiq.actor
def noop() -> None:
    """Do nothing: the benchmarks measure the queue, not the job."""


@dramatiq.actor
def stamp(field: str) -> None:
    """Record this job's start time under ``field``."""
    record(field)
