"""The benchmark jobs as huey tasks on a default ``RedisHuey``.

The consumer runs as ``huey_consumer benchmarks.peer_tasks.huey_tasks.huey``.
"""

from __future__ import annotations

from huey import RedisHuey

from benchmarks.peer_tasks import record, redis_url

#: Defaults apart from the name and URL: blocking BRPOP dequeue, results stored when not None.
huey = RedisHuey("bench", url=redis_url())


@huey.task()
def noop() -> None:
    """Do nothing: the benchmarks measure the queue, not the job."""


@huey.task()
def stamp(field: str) -> None:
    """Record this job's start time under ``field``."""
    record(field)
