"""RQ's module ``rq.scripts``: unique enqueues and scheduler locks.

RQ keeps the Lua sources of these steps here and runs them on its own keys. jq runs its own
scripts (package files of its Redis driver) on its keys, behind the broker interface, so the
functions below do the same steps through jq's queues and locks on any broker, and the
``*_SCRIPT`` names are None: there is no RQ script to register.
"""

from __future__ import annotations

import datetime
import logging
from typing import TYPE_CHECKING, Any

from jq.io.connections import resolve_broker
from jq.queueing.queue import Queue

if TYPE_CHECKING:
    from jq.core.job import Job

__all__ = [
    "ACQUIRE_OR_REFRESH_LOCK_SCRIPT",
    "RELEASE_LOCK_SCRIPT",
    "UNIQUE_ENQUEUE_SCRIPT",
    "UNIQUE_SCHEDULE_SCRIPT",
    "acquire_or_refresh_lock",
    "get_unique_enqueue_script",
    "get_unique_schedule_script",
    "release_lock",
    "save_unique_job",
    "schedule_unique_job",
]

logger = logging.getLogger("jq.queue")

#: RQ's Lua sources; None in jq (see the module's docstring).
UNIQUE_ENQUEUE_SCRIPT: str | None = None
UNIQUE_SCHEDULE_SCRIPT: str | None = None
ACQUIRE_OR_REFRESH_LOCK_SCRIPT: str | None = None
RELEASE_LOCK_SCRIPT: str | None = None


def get_unique_enqueue_script(connection: Any) -> None:
    """None: jq registers no RQ script (a unique enqueue is ``enqueue_job(job, unique=True)``)."""
    return None


def get_unique_schedule_script(connection: Any) -> None:
    """None: jq registers no RQ script (a unique schedule is ``schedule_job(job, when, unique=True)``)."""
    return None


def _queue(connection: Any, queue_key: str, job: Job) -> Any:
    return Queue.from_queue_key(
        queue_key, connection=resolve_broker(connection), job_class=type(job), serializer=job.serializer
    )


def save_unique_job(
    connection: Any, queue_key: str, job: Job, enqueue: bool = True, at_front: bool = False
) -> Job:
    """Store and place ``job`` on the queue whose key is ``queue_key`` unless a job with its id is
    still pending (queued, deferred, scheduled or started): then
    :class:`jq.exceptions.DuplicateJobError`. jq places the job by its dependencies itself, so
    ``enqueue=False`` (RQ's "store, the caller places it") stores and places it too."""
    return _queue(connection, queue_key, job).enqueue_job(job, at_front=at_front, unique=True)  # type: ignore[no-any-return]


def schedule_unique_job(
    connection: Any, queue_key: str, registry_key: str, job: Job, scheduled_datetime: datetime.datetime
) -> Job:
    """Schedule ``job`` on the queue whose key is ``queue_key`` for ``scheduled_datetime`` unless a
    job with its id is still pending (:class:`jq.exceptions.DuplicateJobError`). The scheduled
    registry is the queue's own: ``registry_key`` is not read."""
    return _queue(connection, queue_key, job).schedule_job(job, scheduled_datetime, unique=True)  # type: ignore[no-any-return]


def acquire_or_refresh_lock(connection: Any, lock_key: str, owner_token: str, ttl: int) -> bool:
    """Take the lock named ``lock_key`` for ``ttl`` seconds, or extend it if ``owner_token`` holds
    it; whether ``owner_token`` holds it now. (jq stores it under ``jq:lock:<lock_key>``.)"""
    broker = resolve_broker(connection)
    return broker.acquire_lock(lock_key, owner_token, ttl) or broker.extend_lock(lock_key, owner_token, ttl)


def release_lock(connection: Any, lock_key: str, owner_token: str) -> bool:
    """Free the lock named ``lock_key`` if ``owner_token`` holds it; whether it did."""
    return resolve_broker(connection).release_lock(lock_key, owner_token)
