"""Registries: the places a job is in when it is not waiting in its queue.

Each queue has six: started (a worker runs the job), finished, failed (and stopped), deferred
(waiting for dependencies), scheduled (waiting for a time) and canceled. Finished, failed and
canceled entries expire with their job's record. Each is a set of job ids ordered by a score, a
time whose meaning depends on the registry (:class:`jq.broker.PlaceKind`).

The API is RQ's (``rq.registry``). Where RQ stores something jq does not (execution ids in the
started registry, a "ready" state between deferred and queued), the method answers from what jq
stores: see each docstring and docs/moving-from-rq.md.

``pipeline=`` arguments take a redis-py pipeline: the write is queued on it and happens when the
caller executes it (a broker without pipelines refuses them, see :meth:`Broker.pipeline_writes`).
"""

from __future__ import annotations

import datetime
import logging
import warnings
from typing import TYPE_CHECKING, Any

from jq.base.utils import public_module
from jq.broker import EXECUTION, KEEP, PERSIST, Move, PlaceKind, RecordEdit, ToRegistry, Transition
from jq.broker.clock import due_time
from jq.core import lifecycle, lifecycle_requests
from jq.core.execution import callback_penalty, report_final_failure, run_exception_handlers
from jq.core.job import Job, misplaced_record
from jq.core.job_state import JobStatus
from jq.defaults import DEFAULT_FAILURE_TTL
from jq.exceptions import (
    AbandonedJobError,
    DeserializationError,
    InvalidJobOperation,
    NoSuchJobError,
    UnsupportedByBrokerError,
)
from jq.queueing.registry_base import BaseRegistry

if TYPE_CHECKING:
    from jq.queueing.queue import Queue
    from jq.worker.base import BaseWorker

__all__ = [
    "BaseRegistry",
    "CanceledJobRegistry",
    "DeferredJobRegistry",
    "FailedJobRegistry",
    "FinishedJobRegistry",
    "RateLimitedJobRegistry",
    "ReadyJobRegistry",
    "ScheduledJobRegistry",
    "StartedJobRegistry",
    "clean_registries",
]

logger = logging.getLogger("jq.worker")


class StartedJobRegistry(BaseRegistry):
    """Jobs a worker runs, scored by the deadline of their lease (renewed by the worker's
    heartbeats). One entry per running job: its execution id is on the job's record."""

    kind = PlaceKind.STARTED

    def cleanup(
        self,
        timestamp: float | None = None,
        exception_handlers: list[Any] | None = None,
        *,
        worker: BaseWorker | None = None,
    ) -> list[str]:
        """End every job whose lease expired (its worker died): failed with
        :class:`AbandonedJobError`, or retried under its Retry policy. Returns their ids.

        ``exception_handlers`` are called for each (``handler(job, type, value, traceback)``,
        the traceback None). A final failure runs the job's ``on_failure`` callback (within its
        timeout) and the ``jq_job_failed`` hook, as for any failed job; ``worker`` is the worker
        whose maintenance calls this (passed to the hook, and choosing the callback's death
        penalty).
        """
        # The store's clock: a worker whose own clock is ahead does not end healthy jobs.
        now = self.broker.now() if timestamp is None else timestamp
        ended: list[str] = []
        for job_id in self.broker.registry_expired(self.place, now):
            try:
                if self._end_abandoned(job_id, exception_handlers, worker):
                    ended.append(job_id)
            except self.broker.transient_errors:
                raise  # the store is away: the caller waits it out, and this job is tried again
            except Exception as error:
                # Whatever one job's record holds, the others are ended all the same: this one
                # is failed without reading its record, saying what went wrong.
                logger.exception("job %s: could not end it as abandoned", job_id)
                if self._end_unreadable(job_id, error):
                    ended.append(job_id)
        return ended

    def _end_abandoned(
        self, job_id: str, exception_handlers: list[Any] | None, worker: BaseWorker | None
    ) -> bool:
        """End one abandoned job (see :meth:`cleanup`); whether it was ended here."""
        try:
            job = self.job_class.fetch(
                job_id, connection=self.broker, serializer=self.serializer, decode_call=False
            )
        except NoSuchJobError:
            self.broker.registry_remove(self.place, job_id)
            return False
        except DeserializationError:
            # Ended all the same: a corrupt record must not stay started forever.
            job = self.job_class.unreadable(
                job_id, self.name, self.broker.load_job(job_id), self.broker, self.serializer
            )
        message = (
            f"{AbandonedJobError.__name__}: job {job_id} was abandoned: worker "
            f"{job.worker_name or '?'} stopped renewing its lease"
        )
        if job.origin != self.name:
            # Its record names another queue: ended here, where it is, saying so (a move
            # from another queue's started registry would be refused: it stayed started).
            message = f"{message}; {misplaced_record(job_id, job.origin, self.name, 'running')}"
            job = self.job_class.unreadable(
                job_id, self.name, self.broker.load_job(job_id), self.broker, self.serializer
            )
        status = lifecycle.fail(job, message, execution_id=job.execution_id)
        if status is None:
            return False
        error = AbandonedJobError(message)
        if exception_handlers:
            run_exception_handlers(exception_handlers, job, (AbandonedJobError, error, None))
        if status is JobStatus.FAILED:
            report_final_failure(job, (AbandonedJobError, error, None), worker, callback_penalty(worker))
        return True

    def _end_unreadable(self, job_id: str, error: Exception) -> bool:
        """Fail an abandoned job that could not be ended the usual way (no retry, no callback:
        nothing of its record is trusted); whether it was failed. Never raises but the store's
        transient errors: the job is tried again at the next cleanup."""
        try:
            try:
                record = self.broker.load_job(job_id)
            except DeserializationError as unreadable:
                # Not even a record (on Redis: the job's key holds another type): nothing can be
                # written on it. The entry goes, so that it is not met at every cleanup.
                self.broker.registry_remove(self.place, job_id)
                logger.warning(
                    "job %s: dropped from the started registry of %s: %s", job_id, self.name, unreadable
                )
                return False
            job = self.job_class.unreadable(job_id, self.name, record, self.broker, self.serializer)
            message = (
                f"{AbandonedJobError.__name__}: job {job_id} was abandoned, and ending it raised "
                f"{type(error).__name__}: {error}"
            )
            return lifecycle.fail(job, message, execution_id=job.execution_id) is not None
        except self.broker.transient_errors:
            raise
        except Exception:
            logger.exception(
                "job %s: could not fail it either; it stays started until the next cleanup", job_id
            )
            return False

    def add(self, job: Job | str, ttl: int = 0, pipeline: Any = None, xx: bool = False) -> Any:
        """Refused, as in RQ: a job enters this registry only when a worker claims it."""
        raise NotImplementedError(
            "jobs enter the started registry when a worker claims them; see add_execution()"
        )

    def remove(self, job: Job | str, pipeline: Any = None, delete_job: bool = False) -> Any:
        """Refused, as in RQ: a job leaves this registry when its execution ends."""
        raise NotImplementedError(
            "jobs leave the started registry when their execution ends; see remove_execution()"
        )

    def add_execution(self, execution: Any, pipeline: Any, ttl: int = 0, xx: bool = False) -> Any:
        """Add the job of ``execution`` (an :class:`jq.executions.Execution`), its lease ending
        ``ttl`` seconds from now (-1: never). As :meth:`BaseRegistry.add`."""
        return self._add_entry(execution.job_id, self._score(ttl), pipeline, xx)

    def remove_execution(
        self, execution: Any, job: Job | None = None, pipeline: Any = None, delete_job: bool = False
    ) -> None:
        """Remove the entry of ``execution``'s job while that execution is the job's current one
        (a later execution of the same job keeps its entry)."""
        record = self.broker.load_job_fields(execution.job_id, [EXECUTION])
        current = record[0] if record is not None else None
        if current is not None and current.decode("utf-8", "replace") != execution.id:
            return
        BaseRegistry.remove(self, execution.job_id, pipeline=pipeline)

    def remove_executions(self, job: Job, pipeline: Any = None) -> None:
        """Remove the job's entry, whatever its execution."""
        BaseRegistry.remove(self, job, pipeline=pipeline)

    def get_job_and_execution_ids(
        self, start: int = 0, end: int = -1, desc: bool = False, cleanup: bool = True
    ) -> list[tuple[str, str]]:
        """``(job id, execution id)`` of each running job, ordered as :meth:`get_job_ids`; the
        execution id is ``""`` when the job's record is gone."""
        job_ids = self.get_job_ids(start, end, desc=desc, cleanup=cleanup)
        records = self.broker.load_jobs(job_ids)
        pairs = []
        for job_id, record in zip(job_ids, records, strict=True):
            execution = (record or {}).get(EXECUTION) or b""
            pairs.append((job_id, execution.decode("utf-8", "replace")))
        return pairs


class FinishedJobRegistry(BaseRegistry):
    """Jobs that succeeded, kept ``result_ttl`` seconds."""

    kind = PlaceKind.FINISHED
    expires_entries = True


class FailedJobRegistry(BaseRegistry):
    """Jobs that failed (or were stopped), kept ``failure_ttl`` seconds."""

    kind = PlaceKind.FAILED
    expires_entries = True

    def add(  # type: ignore[override]
        self, job: Job | str, ttl: int | None = None, exc_string: str = "", pipeline: Any = None
    ) -> None:
        """Put the job in this registry for ``ttl`` seconds (default one year; -1: for ever), its
        record (and results) kept as long, with ``exc_string`` as its failure's text. Its status
        is left as it is. With ``pipeline``, it is written when the pipeline is executed.

        Another negative ``ttl`` makes an entry already expired and leaves the record's expiry
        alone, as in RQ; RQ's -1 is such a value too, which jq reads as "for ever" instead (the
        next cleanup would drop the entry of a job meant to be kept).
        """
        job_id = self._job_id(job)
        ttl = DEFAULT_FAILURE_TTL if ttl is None else ttl
        score = self._score(ttl)
        change = Transition(
            job_id,
            Move(None, ToRegistry(self.place, score)),
            RecordEdit(
                {"exc_info": exc_string.encode("utf-8")} if exc_string else {},
                record_ttl=PERSIST if ttl == -1 else KEEP if ttl < 0 else ttl,
            ),
        )
        if pipeline is not None:
            self.broker.pipeline_writes(pipeline).transition(change)
        elif not self.broker.transition(change):
            self.broker.registry_add(self.place, job_id, score)  # no record: the entry alone


class CanceledJobRegistry(BaseRegistry):
    """Jobs that were canceled, kept ``failure_ttl`` seconds."""

    kind = PlaceKind.CANCELED
    expires_entries = True

    def get_expired_job_ids(self, timestamp: float | None = None) -> list[str]:
        """Not available, as in RQ: canceled entries leave with their records."""
        raise NotImplementedError("canceled entries expire with their jobs' records")


class RateLimitedJobRegistry(BaseRegistry):
    """Jobs of the queue waiting for their rate limit (status ``rate_limited``, on no queue until
    their key has a free slot: see :mod:`jq.rate_limit`), scored by when they started waiting.

    jq's own: RQ keeps these per rate-limit key only (:class:`jq.rate_limit.RateLimitRegistry`);
    per queue they show in ``jqueue info`` and ``jqueue jobs --status rate_limited``. Read-only:
    entries come and go with the jobs' state changes.
    """

    kind = PlaceKind.RATE_LIMITED


class DeferredJobRegistry(BaseRegistry):
    """Jobs waiting for their dependencies, scored by when they started waiting."""

    kind = PlaceKind.DEFERRED

    def cleanup(
        self, timestamp: float | None = None, exception_handlers: list[Any] | None = None
    ) -> list[str]:
        """Settle the jobs waiting for a dependency that no longer exists (it was deleted, its
        ``failure_ttl`` ran out after it failed, stopped or was canceled, or its ``ttl`` passed
        before it ran): it will never succeed, so each is canceled (its own dependents in turn),
        or released when it allows failure. Returns their ids. ``timestamp`` is when they are
        canceled (now).

        Workers run this with their other maintenance; :attr:`count` and :meth:`get_job_ids` do
        not, even with ``cleanup=True``, since it reads every waiting job (RQ's cleanup of this
        registry does nothing).
        """
        canceling = lifecycle.dependents_cancellation()
        return self.broker.settle_orphans(
            self.name,
            released_fields=lifecycle.released_fields(),
            canceled_fields=canceling.fields,
            default_failure_ttl=canceling.default_failure_ttl,
            now=timestamp,
        )

    def get_job_count(self, cleanup: bool = True) -> int:
        """How many jobs wait for their dependencies."""
        return self.broker.registry_count(self.place)

    def get_job_ids(
        self, start: int = 0, end: int = -1, desc: bool = False, cleanup: bool = True
    ) -> list[str]:
        """Ids of the waiting jobs, oldest first (newest first with ``desc``)."""
        return super().get_job_ids(start, end, desc=desc, cleanup=False)

    def add(self, job: Job | str, ttl: int | None = None, pipeline: Any = None, xx: bool = False) -> Any:
        """Add an entry scored now (``ttl`` is ignored, as in RQ: deferred entries do not expire)."""
        return self._add_entry(self._job_id(job), self.broker.now(), pipeline, xx)


class ReadyJobRegistry(BaseRegistry):
    """RQ's jobs whose dependencies are met and that wait to be put on their queue. jq queues a
    released dependent in the same atomic step that releases it, so no job is ever in this state:
    the registry is always empty, and nothing can be added to it."""

    kind = None

    @property
    def key(self) -> str | None:
        """None: jq stores no such registry."""
        return None

    def __contains__(self, item: object) -> bool:
        return False

    def get_job_count(self, cleanup: bool = True) -> int:
        """0."""
        return 0

    def get_job_ids(
        self, start: int = 0, end: int = -1, desc: bool = False, cleanup: bool = True
    ) -> list[str]:
        """No ids."""
        return []

    def get_expired_job_ids(self, timestamp: float | None = None) -> list[str]:
        """No ids."""
        return []

    def get_expiration_time(self, job: Job | str) -> datetime.datetime | None:
        """None."""
        return None

    def cleanup(
        self, timestamp: float | None = None, exception_handlers: list[Any] | None = None
    ) -> list[Any]:
        """Nothing to recover: no job is ever left here."""
        return []

    def enqueue_jobs(self, job_ids: list[str]) -> list[Job]:
        """Nothing to enqueue: no job is ever here."""
        return []

    def add(self, job: Job | str, ttl: int | None = None, pipeline: Any = None, xx: bool = False) -> Any:
        """Refused: jq has no ready state (a released dependent is queued at once)."""
        raise UnsupportedByBrokerError(
            "jq has no ready state: a dependent is queued in the step that releases it"
        )

    def register_jobs(self, jobs: list[Job], pipeline: Any) -> None:
        """Refused, as :meth:`add`."""
        self.add(jobs[0] if jobs else "", pipeline=pipeline)

    def remove(self, job: Job | str, pipeline: Any = None, delete_job: bool = False) -> Any:
        """0: nothing is here (with ``delete_job`` the job is still deleted)."""
        if delete_job:
            lifecycle_requests.delete(job if isinstance(job, Job) else self._fetch(self._job_id(job)))
        return pipeline if pipeline is not None else 0

    def requeue(self, job_or_id: Job | str, at_front: bool = False) -> Job:
        """Refused: no job is in this registry."""
        job_id = self._job_id(job_or_id)
        self.job_class.fetch(job_id, connection=self.broker, serializer=self.serializer)
        raise InvalidJobOperation(f"job {job_id!r} is not in {self!r}")


class ScheduledJobRegistry(BaseRegistry):
    """Jobs waiting for their time, scored by it."""

    kind = PlaceKind.SCHEDULED

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: RQ's other name for :meth:`get_expired_job_ids` here: the ids that are due.
        self.get_jobs_to_enqueue = self.get_expired_job_ids

    def get_expired_job_ids(self, timestamp: float | None = None) -> list[str]:
        """Ids due at ``timestamp`` (when None: now, by the store's clock or a test's, see
        :mod:`jq.clock`)."""
        return super().get_expired_job_ids(due_time(self.broker) if timestamp is None else timestamp)

    def schedule(self, job: Job | str, scheduled_datetime: datetime.datetime, pipeline: Any = None) -> Any:
        """Make the entry of ``job`` due at ``scheduled_datetime`` (a naive datetime is the host's
        local time). The job's status is left as it is (see ``Queue.schedule_job``).

        Returns 1 when an entry was added, else 0; with ``pipeline``, the pipeline.
        """
        if scheduled_datetime.tzinfo is None:
            scheduled_datetime = scheduled_datetime.astimezone()
        return self._add_entry(self._job_id(job), scheduled_datetime.timestamp(), pipeline, False)

    def get_jobs_to_schedule(self, timestamp: float | None = None, chunk_size: int = 1000) -> list[str]:
        """Up to ``chunk_size`` ids due at ``timestamp`` (now when None), earliest first."""
        return self.get_expired_job_ids(timestamp)[: max(chunk_size, 0)]

    def remove_jobs(self, timestamp: float | None = None, pipeline: Any = None) -> Any:
        """Deprecated (as in RQ): remove the entries due at ``timestamp`` (now when None),
        leaving their jobs scheduled in no registry. Returns how many; with ``pipeline``, the
        pipeline."""
        warnings.warn(
            "ScheduledJobRegistry.remove_jobs() is deprecated: due jobs are queued by a scheduler",
            DeprecationWarning,
            stacklevel=2,
        )
        before = due_time(self.broker) if timestamp is None else timestamp
        if pipeline is not None:
            self.broker.pipeline_writes(pipeline).registry_cleanup(self.place, before)
            return pipeline
        return len(self.broker.registry_cleanup(self.place, before))

    def enqueue_now(self, job_or_id: Job | str) -> Job:
        """Put a scheduled job of this registry on its queue at once, without waiting for its
        time (jq's addition; ``jqueue`` and the dashboard call it); returns the job.

        Raises :class:`NoSuchJobError` when the job does not exist, :class:`InvalidJobOperation`
        when it is not in this registry or no longer scheduled.
        """
        job_id = self._job_id(job_or_id)
        job = self.job_class.fetch(job_id, connection=self.broker, serializer=self.serializer)
        if job_id not in self:
            raise InvalidJobOperation(f"job {job_id!r} is not in {self!r}")
        lifecycle_requests.enqueue_now(job)
        return job

    def get_scheduled_time(self, job_or_id: Job | str) -> datetime.datetime:
        """When the job is due (UTC); raises :class:`NoSuchJobError` when it is not scheduled."""
        when = self.get_expiration_time(job_or_id)
        if when is None:
            raise NoSuchJobError(f"job {self._job_id(job_or_id)!r} is not in {self!r}")
        return when


def clean_registries(queue: Queue, exception_handlers: list[Any] | None = None) -> None:
    """Clean every registry of ``queue`` as a worker's maintenance does: end abandoned jobs
    (calling ``exception_handlers`` for each), drop expired finished, failed and canceled
    entries, and settle jobs that wait for jobs that no longer exist."""
    StartedJobRegistry(queue=queue).cleanup(exception_handlers=exception_handlers)
    for registry_class in (FinishedJobRegistry, FailedJobRegistry, CanceledJobRegistry, DeferredJobRegistry):
        registry_class(queue=queue).cleanup()


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module(
    "jq.registry",
    StartedJobRegistry,
    FinishedJobRegistry,
    FailedJobRegistry,
    CanceledJobRegistry,
    RateLimitedJobRegistry,
    DeferredJobRegistry,
    ReadyJobRegistry,
    ScheduledJobRegistry,
)
