"""What a queue holds: its waiting jobs, reading them and taking them out, as a part of
:class:`jq.queue.Queue`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from jq.broker import Broker, Move, Place, PlaceKind, Transition
from jq.core.job import Job
from jq.exceptions import NoSuchJobError

if TYPE_CHECKING:
    from jq.io.serializers import Serializer
    from jq.queueing.queue import Queue

__all__ = ["QueueContents"]


class QueueContents:
    """The waiting jobs of a queue. Mixed into :class:`jq.queue.Queue`."""

    name: str
    broker: Broker
    job_class: type[Job]
    serializer: Serializer

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        # A Queue object is always truthy, even when empty (``if queue:`` means "given").
        return True

    def __iter__(self) -> Iterator[Queue]:
        # As RQ: a queue is an iterable of one queue, itself, so that code that takes "a queue
        # or some queues" (Worker(queue), Worker([q1, q2])) can iterate either.
        yield cast("Queue", self)  # a QueueContents is always a Queue (its contents part)

    @property
    def count(self) -> int:
        """How many jobs wait in the queue."""
        return self.broker.queue_length(self.name)

    def is_empty(self) -> bool:
        """Whether no job waits in the queue."""
        return self.count == 0

    def get_job_ids(self, offset: int = 0, length: int = -1) -> list[str]:
        """Ids of waiting jobs, front first, from ``offset`` (``length`` -1: all)."""
        if length == 0:
            return []
        end = -1 if length < 0 else offset + length - 1
        return self.broker.queue_job_ids(self.name, offset, end)

    @property
    def job_ids(self) -> list[str]:
        """Ids of every waiting job, front first."""
        return self.get_job_ids()

    def get_jobs(self, offset: int = 0, length: int = -1) -> list[Job]:
        """Waiting jobs, front first (ids whose job expired are skipped)."""
        jobs = self.job_class.fetch_many(
            self.get_job_ids(offset, length), connection=self.broker, serializer=self.serializer
        )
        return [job for job in jobs if job is not None]

    @property
    def jobs(self) -> list[Job]:
        """Every waiting job, front first."""
        return self.get_jobs()

    def fetch_job(self, job_id: str) -> Job | None:
        """The job with this id if it belongs to this queue, else None."""
        try:
            job = self.job_class.fetch(job_id, connection=self.broker, serializer=self.serializer)
        except NoSuchJobError:
            return None
        return job if job.origin == self.name else None

    def get_job_position(self, job_or_id: Job | str) -> int | None:
        """The 0-based position of a job in the queue, or None."""
        job_id = job_or_id.id if isinstance(job_or_id, Job) else job_or_id
        return self.broker.queue_position(self.name, job_id)

    def remove(self, job_or_id: Job | str, pipeline: Any = None) -> bool:
        """Take a job out of the queue without changing its record; whether it was there (with a
        redis-py ``pipeline``, the removal is queued on it and True is returned)."""
        job_id = job_or_id.id if isinstance(job_or_id, Job) else job_or_id
        change = Transition(job_id, Move(Place(PlaceKind.QUEUE, self.name)))
        if pipeline is not None:
            self.broker.pipeline_writes(pipeline).transition(change)
            return True
        return self.broker.transition(change)

    def compact(self) -> int:
        """Take out of the queue the ids whose job no longer exists (its record expired or was
        deleted), keeping the others in order; returns how many were taken out.

        A worker skips such ids anyway; this makes :attr:`count` exact again.
        """
        removed = 0
        ids = list(dict.fromkeys(self.get_job_ids()))
        for start in range(0, len(ids), 500):
            batch = ids[start : start + 500]
            for job_id, record in zip(batch, self.broker.load_jobs(batch), strict=True):
                # Checked again right before: an id enqueued again meanwhile must stay.
                if record is None and not self.broker.job_exists(job_id):
                    self.broker.delete_job(job_id, [Place(PlaceKind.QUEUE, self.name)])
                    removed += 1
        return removed

    def empty(self) -> int:
        """Delete every waiting job; returns how many."""
        return self.broker.empty_queue(self.name)

    def delete(self, delete_jobs: bool = True) -> None:
        """Forget the queue (and, with ``delete_jobs``, its waiting jobs). Enqueueing recreates it."""
        self.broker.delete_queue(self.name, delete_jobs)
