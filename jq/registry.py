"""Registries: the places a job is in when it is not waiting in its queue.

Each queue has six: started (a worker runs the job), finished, failed (and stopped), deferred
(waiting for dependencies), scheduled (waiting for a time) and canceled. Finished, failed and
canceled entries expire with their job's record.
"""

from __future__ import annotations

import datetime
import math
import time
from typing import TYPE_CHECKING, Any

from jq import lifecycle
from jq.broker import Broker, Place, PlaceKind
from jq.connections import resolve_broker
from jq.exceptions import AbandonedJobError, DeserializationError, InvalidJobOperation, NoSuchJobError
from jq.serializers import resolve_serializer
from jq.utils import validate_queue_name

if TYPE_CHECKING:
    from jq.job import Job
    from jq.queue import Queue
    from jq.worker.base import BaseWorker

__all__ = [
    "BaseRegistry",
    "CanceledJobRegistry",
    "DeferredJobRegistry",
    "FailedJobRegistry",
    "FinishedJobRegistry",
    "ScheduledJobRegistry",
    "StartedJobRegistry",
]


class BaseRegistry:
    """The job ids of one queue that are in one kind of place, ordered by score (a time)."""

    kind: PlaceKind = PlaceKind.FINISHED
    #: Entries past their score are dropped by :meth:`cleanup` (their records expired with them).
    expires_entries = False

    def __init__(
        self,
        name: str = "default",
        connection: Any = None,
        job_class: type[Job] | None = None,
        queue: Queue | None = None,
        serializer: Any = None,
    ) -> None:
        from jq.job import Job

        if queue is not None:
            name, connection = queue.name, queue.broker
            job_class = job_class or queue.job_class
            serializer = serializer or queue.serializer
        self.name = validate_queue_name(name)
        self.broker: Broker = resolve_broker(connection)
        self.job_class: type[Job] = job_class or Job
        self.serializer = resolve_serializer(serializer)

    @property
    def place(self) -> Place:
        """The broker place of this registry."""
        return Place(self.kind, self.name)

    @property
    def key(self) -> str:
        """The key this registry is stored under."""
        return self.broker.place_key(self.place)

    @property
    def connection(self) -> Any:
        """The client of the registry's broker."""
        return self.broker.connection

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BaseRegistry) and other.place == self.place and other.broker is self.broker

    def __hash__(self) -> int:
        return hash((self.place, id(self.broker)))

    def _job_id(self, job_or_id: Job | str) -> str:
        return job_or_id if isinstance(job_or_id, str) else job_or_id.id

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, str) and not hasattr(item, "id"):
            return False
        return self.broker.registry_score(self.place, self._job_id(item)) is not None  # type: ignore[arg-type]

    def __len__(self) -> int:
        return self.count

    @property
    def count(self) -> int:
        """How many jobs are in the registry (expired entries are cleaned first)."""
        self.cleanup()
        return self.broker.registry_count(self.place)

    def get_job_ids(self, start: int = 0, end: int = -1) -> list[str]:
        """Job ids by ascending score, ``start`` to ``end`` inclusive."""
        self.cleanup()
        return self.broker.registry_ids(self.place, start, end)

    def get_jobs(self, start: int = 0, end: int = -1) -> list[Job]:
        """The jobs, by ascending score (entries whose job is gone are skipped)."""
        jobs = self.job_class.fetch_many(
            self.get_job_ids(start, end), connection=self.broker, serializer=self.serializer
        )
        return [job for job in jobs if job is not None]

    def get_expiration_time(self, job: Job | str) -> datetime.datetime | None:
        """When the entry's score falls due, or None when it never does or is not here."""
        score = self.broker.registry_score(self.place, self._job_id(job))
        if score is None or math.isinf(score):
            return None
        return datetime.datetime.fromtimestamp(score, tz=datetime.timezone.utc)

    def add(self, job: Job | str, ttl: int = 0) -> None:
        """Add an entry due ``ttl`` seconds from now (-1: never). Changes nothing else."""
        score = math.inf if ttl < 0 else time.time() + ttl
        self.broker.registry_add(self.place, self._job_id(job), score)

    def remove(self, job: Job | str, delete_job: bool = False) -> bool:
        """Remove an entry (and, with ``delete_job``, the job itself: the jobs waiting for it stay
        deferred until maintenance settles them, as after :meth:`Job.delete`); whether it was
        here."""
        job_id = self._job_id(job)
        removed = self.broker.registry_remove(self.place, job_id)
        if delete_job:
            self.broker.delete_job(job_id, [self.place])
        return removed

    def cleanup(self, timestamp: float | None = None) -> list[str]:
        """Drop entries whose score passed (for registries whose entries expire); their ids."""
        if not self.expires_entries:
            return []
        return self.broker.registry_cleanup(self.place, time.time() if timestamp is None else timestamp)

    def get_queue(self) -> Queue:
        """The registry's queue."""
        from jq.queue import Queue

        return Queue(self.name, connection=self.broker, job_class=self.job_class, serializer=self.serializer)

    def requeue(self, job_or_id: Job | str, at_front: bool = False) -> Job:
        """Put a job of this registry back on its queue; returns it. Raises
        :class:`NoSuchJobError` for an id with no job, :class:`InvalidJobOperation` for a job that
        is not in this registry (as RQ)."""
        job_id = self._job_id(job_or_id)
        job = self.job_class.fetch(job_id, connection=self.broker, serializer=self.serializer)
        if job_id not in self:
            raise InvalidJobOperation(f"job {job_id!r} is not in {self!r}")
        return job.requeue(at_front=at_front)


class StartedJobRegistry(BaseRegistry):
    """Jobs a worker runs, scored by the deadline of their lease."""

    kind = PlaceKind.STARTED

    def cleanup(self, timestamp: float | None = None, *, worker: BaseWorker | None = None) -> list[str]:
        """End every job whose lease expired (its worker died): failed with
        :class:`AbandonedJobError`, or retried under its Retry policy. Returns their ids.

        A final failure runs the job's ``on_failure`` callback (within its timeout) and the
        ``jq_job_failed`` hook, as for any failed job; ``worker`` is the worker whose maintenance
        calls this (passed to the hook, and choosing the callback's death penalty).
        """
        from jq.execution import callback_penalty, report_final_failure
        from jq.job_state import JobStatus

        now = time.time() if timestamp is None else timestamp
        ended: list[str] = []
        for job_id in self.broker.registry_expired(self.place, now):
            try:
                job = self.job_class.fetch(
                    job_id, connection=self.broker, serializer=self.serializer, decode_call=False
                )
            except NoSuchJobError:
                self.broker.registry_remove(self.place, job_id)
                continue
            except DeserializationError:
                # Ended all the same: a corrupt record must not stay started forever.
                job = self.job_class.unreadable(
                    job_id, self.name, self.broker.load_job(job_id), self.broker, self.serializer
                )
            message = (
                f"{AbandonedJobError.__name__}: job {job_id} was abandoned: worker "
                f"{job.worker_name or '?'} stopped renewing its lease"
            )
            status = lifecycle.fail(job, message, execution_id=job.execution_id)
            if status is None:
                continue
            ended.append(job_id)
            if status is JobStatus.FAILED:
                error = AbandonedJobError(message)
                report_final_failure(job, (AbandonedJobError, error, None), worker, callback_penalty(worker))
        return ended

    @property
    def count(self) -> int:
        """How many jobs are running (abandoned ones are not cleaned here)."""
        return self.broker.registry_count(self.place)

    def get_job_ids(self, start: int = 0, end: int = -1) -> list[str]:
        """Ids of running jobs."""
        return self.broker.registry_ids(self.place, start, end)


class FinishedJobRegistry(BaseRegistry):
    """Jobs that succeeded, kept ``result_ttl`` seconds."""

    kind = PlaceKind.FINISHED
    expires_entries = True


class FailedJobRegistry(BaseRegistry):
    """Jobs that failed (or were stopped), kept ``failure_ttl`` seconds."""

    kind = PlaceKind.FAILED
    expires_entries = True


class CanceledJobRegistry(BaseRegistry):
    """Jobs that were canceled, kept ``failure_ttl`` seconds."""

    kind = PlaceKind.CANCELED
    expires_entries = True


class DeferredJobRegistry(BaseRegistry):
    """Jobs waiting for their dependencies."""

    kind = PlaceKind.DEFERRED

    def cleanup(self, timestamp: float | None = None) -> list[str]:
        """Settle the jobs waiting for a dependency that no longer exists (it was deleted, its
        ``failure_ttl`` ran out after it failed, stopped or was canceled, or its ``ttl`` passed
        before it ran): it will never succeed, so each is canceled (its own dependents in turn),
        or released when it allows failure. Returns their ids. ``timestamp`` is when they are
        canceled (now).

        Workers run this with their other maintenance; :attr:`count` and :meth:`get_job_ids` do
        not, since it reads every waiting job.
        """
        fields = lifecycle.failed_dependents()
        return self.broker.settle_orphans(
            self.name,
            released_fields=fields["released_fields"],
            canceled_fields=fields["canceled_fields"],
            default_failure_ttl=fields["default_failure_ttl"],
            now=timestamp,
        )

    @property
    def count(self) -> int:
        """How many jobs wait for their dependencies."""
        return self.broker.registry_count(self.place)

    def get_job_ids(self, start: int = 0, end: int = -1) -> list[str]:
        """Ids of the waiting jobs, oldest first."""
        return self.broker.registry_ids(self.place, start, end)


class ScheduledJobRegistry(BaseRegistry):
    """Jobs waiting for their time, scored by it."""

    kind = PlaceKind.SCHEDULED

    def get_scheduled_time(self, job_or_id: Job | str) -> datetime.datetime:
        """When the job is due (UTC); raises :class:`NoSuchJobError` when it is not scheduled."""
        when = self.get_expiration_time(job_or_id)
        if when is None:
            raise NoSuchJobError(f"job {self._job_id(job_or_id)!r} is not in {self!r}")
        return when
