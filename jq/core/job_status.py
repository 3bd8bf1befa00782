"""What a job says of its status: read from the broker (``get_status``, ``is_queued``...), or
written alone (``set_status``); a mixin of :class:`jq.job.Job`."""

from __future__ import annotations

from typing import Any

from jq.broker import STATUS, Broker
from jq.core.job_state import UNSTORED_STATUSES, JobStatus
from jq.exceptions import ConfigurationError, MissingJobError, NoSuchJobError

__all__ = ["JobStatusQueries"]


class JobStatusQueries:
    """RQ's status methods of a job: each reads (or writes) the status field of its record."""

    # Set by Job.__init__ (see jq.core.job).
    _id: str
    _status: JobStatus | None
    broker: Broker
    origin: str

    # -- status -------------------------------------------------------------------------------------

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
