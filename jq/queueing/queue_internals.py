"""RQ's lower-level Queue members, as a part of :class:`jq.queue.Queue`.

RQ's Queue exposes steps of its Redis layout (pop an id, push an id, a maintenance lock). jq
answers those it can without putting a job in two places or in none; the ones that would (an id
popped by hand leaves its job in no queue and no registry: lost) refuse with
:class:`UnsupportedByBrokerError` naming what to use instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from jq.broker import Broker
from jq.exceptions import UnsupportedByBrokerError

__all__ = ["QueueInternals", "scheduler_lock_name"]

#: Seconds a queue's maintenance lock lasts unless released (RQ's: 15 minutes - 1 s).
MAINTENANCE_LOCK_TTL = 899


def scheduler_lock_name(queue: str) -> str:
    """The name of the lock a queue's active scheduler holds (see :mod:`jq.scheduling.scheduler`)."""
    return f"scheduler:{queue}"


def _claim_only(what: str) -> UnsupportedByBrokerError:
    return UnsupportedByBrokerError(
        f"{what}: jq takes a job off its queue only by claiming it for a worker, which moves it to "
        "the started registry in the same step (a job popped by hand would be in no queue and no "
        "registry). Run jobs with a Worker or SimpleWorker, or Queue(is_async=False)"
    )


class QueueInternals:
    """RQ's Redis-level Queue members. Mixed into :class:`jq.queue.Queue`."""

    name: str
    broker: Broker
    _maintenance_token: str | None = None
    #: RQ's cache of the server's version (see :meth:`get_redis_server_version`).
    redis_server_version: tuple[int, ...] | None = None

    @property
    def registry_cleaning_key(self) -> str:
        """The name of the lock a queue's registry cleaning holds (see
        :meth:`acquire_maintenance_lock`)."""
        return f"clean_registries:{self.name}"

    def acquire_maintenance_lock(self) -> bool:
        """Take the queue's maintenance lock for 899 s unless someone holds it; whether taken."""
        token = uuid.uuid4().hex
        if self.broker.acquire_lock(self.registry_cleaning_key, token, MAINTENANCE_LOCK_TTL):
            self._maintenance_token = token
            return True
        return False

    def release_maintenance_lock(self) -> None:
        """Give back the maintenance lock this queue object took."""
        if self._maintenance_token is not None:
            self.broker.release_lock(self.registry_cleaning_key, self._maintenance_token)
            self._maintenance_token = None

    @property
    def scheduler_pid(self) -> int | None:
        """The process id of the scheduler active for this queue now, or None when none is."""
        owner = self.broker.lock_owner(scheduler_lock_name(self.name))
        if owner is None:
            return None
        # A scheduler's token is name:host:pid:unique (see jq.scheduler.Scheduler).
        parts = owner.rsplit(":", 2)
        return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None

    def get_redis_server_version(self) -> tuple[int, ...]:
        """The version of the Redis server the queue's store runs on, as three numbers (RQ's
        ``(5, 0, 9)`` for a server that does not answer ``INFO``, such as fakeredis)."""
        if self.redis_server_version is None:
            info = getattr(self.broker.connection, "info", None)
            if info is None:
                raise UnsupportedByBrokerError(f"the store of queue {self.name!r} is not a Redis server")
            try:
                version = str(info("server")["redis_version"])
            except self.broker.transient_errors:
                raise
            except Exception:
                version = "5.0.9"
            numbers = [int(part) for part in version.split(".")[:3] if part.isdigit()]
            self.redis_server_version = tuple(numbers + [0] * (3 - len(numbers)))
        return self.redis_server_version

    def push_job_id(self, job_id: str, pipeline: Any = None, at_front: bool = False) -> None:
        """Refused: an id pushed by hand would put a job on a queue without its record saying so
        (use ``enqueue_job``, ``job.requeue()`` or ``registry.requeue()``)."""
        raise UnsupportedByBrokerError(
            "push_job_id: jq puts a job on its queue only with its status in the same step: use "
            "queue.enqueue_job(job), job.requeue() or a registry's requeue()"
        )

    def pop_job_id(self) -> str | None:
        """Refused: see :mod:`jq.queueing.queue_internals`."""
        raise _claim_only("pop_job_id")

    @classmethod
    def lpop(cls, queue_keys: Sequence[str], timeout: int | None, connection: Any = None) -> Any:
        """Refused: see :mod:`jq.queueing.queue_internals`."""
        raise _claim_only("Queue.lpop")

    @classmethod
    def lmove(cls, connection: Any, queue_key: str, timeout: int | None) -> Any:
        """Refused: see :mod:`jq.queueing.queue_internals`."""
        raise _claim_only("Queue.lmove")

    @classmethod
    def dequeue_any(
        cls,
        queues: Iterable[Any],
        timeout: int | None,
        connection: Any,
        job_class: Any = None,
        serializer: Any = None,
        death_penalty_class: Any = None,
    ) -> Any:
        """Refused: see :mod:`jq.queueing.queue_internals`."""
        raise _claim_only("Queue.dequeue_any")
