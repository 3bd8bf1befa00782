"""A job's status: the enum, where each status lives, and the status accessors of a job."""

from __future__ import annotations

import enum

from jq.broker import STATUS_PLACES, Broker, PlaceKind
from jq.exceptions import NoSuchJobError

__all__ = ["STATUS_PLACE", "JobState", "JobStatus"]


class JobStatus(str, enum.Enum):
    """Where a job is in its life. Each status compares equal to its string (``'queued'``...)."""

    QUEUED = "queued"
    FINISHED = "finished"
    FAILED = "failed"
    STARTED = "started"
    DEFERRED = "deferred"
    SCHEDULED = "scheduled"
    STOPPED = "stopped"
    CANCELED = "canceled"

    def __str__(self) -> str:
        return self.value


#: The place a job of each status is in (stopped jobs are kept in the failed registry).
STATUS_PLACE: dict[JobStatus, PlaceKind] = {JobStatus(status): kind for status, kind in STATUS_PLACES.items()}


class JobState:
    """The status accessors of a :class:`jq.job.Job` (``get_status()``, ``is_finished``...)."""

    _id: str
    origin: str
    broker: Broker
    _status: JobStatus | None

    def get_status(self, refresh: bool = True) -> JobStatus | None:
        """The job's status, read from the broker unless ``refresh=False``.

        Raises :class:`NoSuchJobError` when refreshing a job that no longer exists.
        """
        if refresh:
            values = self.broker.load_job_fields(self._id, ["status"])
            if values is None:
                raise NoSuchJobError(f"No such job: {self._id}")
            self._status = JobStatus(values[0].decode()) if values[0] else None
        return self._status

    def set_status(self, status: JobStatus | str) -> None:
        """Write the status field only (no place changes; prefer the lifecycle methods)."""
        self._status = JobStatus(status)
        if not self.broker.update_job(self._id, {"status": self._status.value.encode()}):
            raise NoSuchJobError(f"No such job: {self._id}")

    def _has_status(self, status: JobStatus) -> bool:
        try:
            return self.get_status() == status
        except NoSuchJobError:
            return False

    @property
    def is_queued(self) -> bool:
        """The job waits in its queue."""
        return self._has_status(JobStatus.QUEUED)

    @property
    def is_started(self) -> bool:
        """A worker is running the job."""
        return self._has_status(JobStatus.STARTED)

    @property
    def is_finished(self) -> bool:
        """The job ran and succeeded."""
        return self._has_status(JobStatus.FINISHED)

    @property
    def is_failed(self) -> bool:
        """The job ran and failed."""
        return self._has_status(JobStatus.FAILED)

    @property
    def is_deferred(self) -> bool:
        """The job waits for its dependencies."""
        return self._has_status(JobStatus.DEFERRED)

    @property
    def is_scheduled(self) -> bool:
        """The job waits for its time."""
        return self._has_status(JobStatus.SCHEDULED)

    @property
    def is_canceled(self) -> bool:
        """The job was canceled."""
        return self._has_status(JobStatus.CANCELED)

    @property
    def is_stopped(self) -> bool:
        """The job was stopped while it ran."""
        return self._has_status(JobStatus.STOPPED)

    def get_position(self) -> int | None:
        """The job's 0-based position in its queue, or None when it is not queued."""
        return self.broker.queue_position(self.origin, self._id)
