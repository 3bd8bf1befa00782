"""A job's status: the enum, where each status lives, and the status accessors of a job."""

from __future__ import annotations

import enum
from typing import Any

from jq.base.utils import public_module
from jq.broker import STATUS, STATUS_PLACES, Broker, PlaceKind
from jq.exceptions import ConfigurationError, MissingJobError, NoSuchJobError

__all__ = ["STATUS_PLACE", "UNSTORED_STATUSES", "JobState", "JobStatus"]


class JobStatus(str, enum.Enum):
    """Where a job is in its life. Each status compares equal to its string (``'queued'``...).

    ``str()`` and ``format()`` of a status are Python's for a ``(str, Enum)``, as in RQ:
    ``'JobStatus.QUEUED'`` (``.value`` is ``'queued'``).
    """

    #: Made by :meth:`jq.job.Job.create` and not enqueued yet.
    CREATED = "created"
    QUEUED = "queued"
    FINISHED = "finished"
    FAILED = "failed"
    STARTED = "started"
    DEFERRED = "deferred"
    SCHEDULED = "scheduled"
    STOPPED = "stopped"
    CANCELED = "canceled"
    #: Waiting for a slot of its rate limit (``RateLimit``), on no queue until one is free.
    RATE_LIMITED = "rate_limited"
    #: RQ's status of a released dependent not yet queued; jq queues released dependents in the
    #: same step that releases them, so no job gets it.
    READY_TO_ENQUEUE = "ready_to_enqueue"


#: The place a job of each status is in (stopped jobs are kept in the failed registry).
STATUS_PLACE: dict[JobStatus, PlaceKind] = {JobStatus(status): kind for status, kind in STATUS_PLACES.items()}

#: Statuses that name no place: a record holds none of them. A job that was created (or saved)
#: and never enqueued has no status field, and reads back as ``created``.
UNSTORED_STATUSES = frozenset(status for status in JobStatus if status not in STATUS_PLACE)


class JobState:
    """The status accessors of a :class:`jq.job.Job` (``get_status()``, ``is_finished``...)."""

    _id: str
    origin: str
    broker: Broker
    _status: JobStatus | None

    def get_status(self, refresh: bool = True) -> JobStatus:
        """The job's status, read from the broker unless ``refresh=False``.

        Raises :class:`MissingJobError` (both a :class:`NoSuchJobError` and an
        :class:`InvalidJobOperation`) when refreshing a job whose record is gone.
        """
        if refresh:
            values = self.broker.load_job_fields(self._id, [STATUS])
            if values is None:
                raise MissingJobError(f"Failed to retrieve status for job {self._id}: it does not exist")
            self._status = JobStatus(values[0].decode()) if values[0] else JobStatus.CREATED
        return JobStatus.CREATED if self._status is None else self._status

    def set_status(self, status: JobStatus | str, pipeline: Any = None) -> None:
        """Write the status field only: no place changes (prefer the lifecycle methods).

        With a redis-py ``pipeline``, the write is queued on it and made by ``pipeline.execute()``.
        """
        value = JobStatus(status)
        if value in UNSTORED_STATUSES:
            raise ConfigurationError(
                f"status {value.value!r} names no place a job can be in, and jq never stores it"
            )
        fields = {STATUS: value.value.encode()}
        if pipeline is not None:
            self.broker.pipeline_writes(pipeline).update_job(self._id, fields)
        elif not self.broker.update_job(self._id, fields):
            raise NoSuchJobError(f"No such job: {self._id}")
        self._status = value

    @property
    def is_queued(self) -> bool:
        """The job waits in its queue (raises :class:`MissingJobError` when it is gone)."""
        return self.get_status() == JobStatus.QUEUED

    @property
    def is_started(self) -> bool:
        """A worker is running the job."""
        return self.get_status() == JobStatus.STARTED

    @property
    def is_finished(self) -> bool:
        """The job ran and succeeded."""
        return self.get_status() == JobStatus.FINISHED

    @property
    def is_failed(self) -> bool:
        """The job ran and failed."""
        return self.get_status() == JobStatus.FAILED

    @property
    def is_deferred(self) -> bool:
        """The job waits for its dependencies."""
        return self.get_status() == JobStatus.DEFERRED

    @property
    def is_scheduled(self) -> bool:
        """The job waits for its time."""
        return self.get_status() == JobStatus.SCHEDULED

    @property
    def is_canceled(self) -> bool:
        """The job was canceled."""
        return self.get_status() == JobStatus.CANCELED

    @property
    def is_stopped(self) -> bool:
        """The job was stopped while it ran."""
        return self.get_status() == JobStatus.STOPPED

    @property
    def is_ready_to_enqueue(self) -> bool:
        """RQ's "released, not queued yet": never true in jq (see :attr:`JobStatus.READY_TO_ENQUEUE`)."""
        return self.get_status() == JobStatus.READY_TO_ENQUEUE

    def get_position(self) -> int | None:
        """The job's 0-based position in its queue, or None when it is not queued."""
        if not self.origin:
            return None
        return self.broker.queue_position(self.origin, self._id)


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.job", JobStatus)
