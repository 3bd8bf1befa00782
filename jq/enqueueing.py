"""Putting calls on a queue: ``enqueue`` and its relatives, as a part of :class:`jq.queue.Queue`."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from jq.broker import Broker, EnqueueOutcome, EnqueueRequest, RefusalReason
from jq.callbacks import Callback
from jq.clock import scheduling_now
from jq.exceptions import (
    ConfigurationError,
    DuplicateJobError,
    InvalidJobDependency,
    InvalidJobOperation,
    NoSuchJobError,
)
from jq.job import Job, JobStatus
from jq.payload import check_record_size
from jq.plugins import get_plugin_manager
from jq.retry import Retry
from jq.serializers import Serializer
from jq.timeouts import BaseDeathPenalty
from jq.utils import now, parse_timeout, validate_flag

__all__ = ["EnqueueData", "Enqueueing"]

# enqueue()'s own keyword options, and the name create_job() gives each; everything else goes to
# the job's function.
_ENQUEUE_OPTIONS: dict[str, str] = {
    "job_timeout": "timeout",
    "description": "description",
    "result_ttl": "result_ttl",
    "ttl": "ttl",
    "failure_ttl": "failure_ttl",
    "depends_on": "depends_on",
    "job_id": "job_id",
    "meta": "meta",
    "retry": "retry",
    "on_success": "on_success",
    "on_failure": "on_failure",
    "on_stopped": "on_stopped",
    "at_front": "",
    "unique": "",
    "pipeline": "",
}


class EnqueueData(NamedTuple):
    """One job for :meth:`Queue.enqueue_many`, made by :meth:`Queue.prepare_data`."""

    func: Callable[..., Any] | str
    args: Sequence[Any] | None
    kwargs: dict[str, Any] | None
    timeout: int | str | None
    result_ttl: int | str | None
    ttl: int | str | None
    failure_ttl: int | str | None
    description: str | None
    depends_on: Any
    job_id: str | None
    at_front: bool
    meta: dict[str, Any] | None
    retry: Retry | None
    on_success: Callback | Callable[..., Any] | None
    on_failure: Callback | Callable[..., Any] | None
    on_stopped: Callback | Callable[..., Any] | None


def _refusal(job: Job, outcome: EnqueueOutcome) -> Exception:
    """The error for an enqueue the broker refused (nothing was written)."""
    if outcome.reason is RefusalReason.DUPLICATE:
        return DuplicateJobError(
            f"job {job.id!r} is already queued, deferred, scheduled or running and unique=True was "
            "asked: nothing was enqueued",
            job_id=job.id,
        )
    if outcome.reason is RefusalReason.CYCLE:
        return InvalidJobDependency(
            f"job {job.id!r} would wait for itself through its dependencies (a dependency cycle): "
            "nothing was enqueued"
        )
    if outcome.reason is RefusalReason.ALREADY:
        return InvalidJobOperation(f"job {job.id!r} was not enqueued: its marker was already reached")
    if outcome.reason is RefusalReason.BATCH:
        return InvalidJobOperation(
            f"job {job.id!r} was not enqueued: another job of its batch was refused, and a batch is "
            "enqueued whole or not at all"
        )
    return NoSuchJobError(
        f"job {job.id!r} depends on jobs that do not exist: {', '.join(outcome.missing)}; "
        "nothing was enqueued"
    )


class Enqueueing:
    """The enqueueing API of a queue. Mixed into :class:`jq.queue.Queue`."""

    name: str
    broker: Broker
    job_class: type[Job]
    serializer: Serializer
    _default_timeout: int
    _is_async: bool
    _max_payload_size: int | None
    #: The class enforcing job timeouts when ``is_async=False`` runs them (None: the default).
    death_penalty_class: type[BaseDeathPenalty] | None

    def create_job(
        self,
        func: Callable[..., Any] | str,
        args: Sequence[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        timeout: int | str | None = None,
        result_ttl: int | str | None = None,
        ttl: int | str | None = None,
        failure_ttl: int | str | None = None,
        description: str | None = None,
        depends_on: Any = None,
        job_id: str | None = None,
        meta: dict[str, Any] | None = None,
        status: JobStatus = JobStatus.QUEUED,
        retry: Retry | None = None,
        *,
        on_success: Callback | Callable[..., Any] | None = None,
        on_failure: Callback | Callable[..., Any] | None = None,
        on_stopped: Callback | Callable[..., Any] | None = None,
    ) -> Job:
        """A job of this queue with every option checked; nothing is written."""
        timeout = parse_timeout(timeout)
        job = self.job_class.create(
            func,
            args=args,
            kwargs=kwargs,
            connection=self.broker,
            result_ttl=result_ttl,
            ttl=ttl,
            failure_ttl=failure_ttl,
            status=status,
            description=description,
            depends_on=depends_on,
            timeout=self._default_timeout if timeout is None else timeout,
            id=job_id,
            origin=self.name,
            meta=meta,
            serializer=self.serializer,
            on_success=on_success,
            on_failure=on_failure,
            on_stopped=on_stopped,
            retry=retry,
        )
        if job.description is None:
            job.description = job.get_call_string()
        return job

    @staticmethod
    def parse_args(
        f: Any, *args: Any, **kwargs: Any
    ) -> tuple[Any, dict[str, Any], tuple[Any, ...], dict[str, Any]]:
        """Split ``enqueue()``'s arguments into (function, enqueue options, args, kwargs).

        ``args=`` and ``kwargs=`` pass arguments whose names clash with enqueue's own options.
        """
        if not isinstance(f, str) and not callable(f):
            raise ConfigurationError(
                f"the first argument to enqueue must be a function or a dotted path, not {f!r}"
            )
        if not kwargs:  # the usual call: no options, no keyword arguments
            return f, {}, args, kwargs
        options = {name: kwargs.pop(name) for name in list(_ENQUEUE_OPTIONS) if name in kwargs}
        if "args" in kwargs or "kwargs" in kwargs:
            if args:
                raise ConfigurationError("pass arguments either positionally or with args=/kwargs=, not both")
            explicit_args = kwargs.pop("args", None) or ()
            explicit_kwargs = kwargs.pop("kwargs", None) or {}
            if kwargs:
                raise ConfigurationError(
                    "with args=/kwargs=, every argument of the function goes inside them; "
                    f"unexpected: {', '.join(sorted(kwargs))}"
                )
            return f, options, tuple(explicit_args), dict(explicit_kwargs)
        return f, options, args, kwargs

    def _create_from_options(
        self, func: Any, args: Sequence[Any], kwargs: dict[str, Any], options: dict[str, Any]
    ) -> Job:
        """create_job() from enqueue()'s options (as :meth:`parse_args` returns them)."""
        named = {_ENQUEUE_OPTIONS[key]: value for key, value in options.items() if _ENQUEUE_OPTIONS[key]}
        return self.create_job(func, args=args, kwargs=kwargs, **named)

    def enqueue(self, f: Any, *args: Any, **kwargs: Any) -> Job:
        """Put ``f(*args, **kwargs)`` on the queue; returns the :class:`Job`.

        enqueue's own options (``job_timeout``, ``result_ttl``, ``ttl``, ``failure_ttl``,
        ``depends_on``, ``job_id``, ``at_front``, ``description``, ``meta``, ``retry``,
        ``on_success``, ``on_failure``, ``on_stopped``, ``unique``) are taken out of the keyword
        arguments; use ``args=``/``kwargs=`` to pass arguments with those names to ``f``.

        ``unique=True`` (with a ``job_id``) refuses, with :class:`DuplicateJobError`, while a job
        with that id is queued, deferred, scheduled or running.
        """
        func, options, call_args, call_kwargs = self.parse_args(f, *args, **kwargs)
        job = self._create_from_options(func, call_args, call_kwargs, options)
        return self.enqueue_job(
            job, at_front=options.get("at_front", False), unique=options.get("unique", False)
        )

    def enqueue_call(
        self,
        func: Callable[..., Any] | str,
        args: Sequence[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        timeout: int | str | None = None,
        result_ttl: int | str | None = None,
        ttl: int | str | None = None,
        failure_ttl: int | str | None = None,
        description: str | None = None,
        depends_on: Any = None,
        job_id: str | None = None,
        at_front: bool = False,
        meta: dict[str, Any] | None = None,
        retry: Retry | None = None,
        on_success: Callback | Callable[..., Any] | None = None,
        on_failure: Callback | Callable[..., Any] | None = None,
        on_stopped: Callback | Callable[..., Any] | None = None,
        pipeline: Any = None,
        unique: bool = False,
    ) -> Job:
        """Put ``func(*args, **kwargs)`` on the queue, every option explicit."""
        job = self.create_job(
            func,
            args=args,
            kwargs=kwargs,
            timeout=timeout,
            result_ttl=result_ttl,
            ttl=ttl,
            failure_ttl=failure_ttl,
            description=description,
            depends_on=depends_on,
            job_id=job_id,
            meta=meta,
            retry=retry,
            on_success=on_success,
            on_failure=on_failure,
            on_stopped=on_stopped,
        )
        return self.enqueue_job(job, at_front=at_front, unique=unique)

    @staticmethod
    def prepare_data(
        func: Callable[..., Any] | str,
        args: Sequence[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        timeout: int | str | None = None,
        result_ttl: int | str | None = None,
        ttl: int | str | None = None,
        failure_ttl: int | str | None = None,
        description: str | None = None,
        job_id: str | None = None,
        at_front: bool = False,
        meta: dict[str, Any] | None = None,
        retry: Retry | None = None,
        on_success: Callback | Callable[..., Any] | None = None,
        on_failure: Callback | Callable[..., Any] | None = None,
        on_stopped: Callback | Callable[..., Any] | None = None,
        depends_on: Any = None,
    ) -> EnqueueData:
        """Describe one job for :meth:`enqueue_many`."""
        return EnqueueData(
            func, args, kwargs, timeout, result_ttl, ttl, failure_ttl, description, depends_on,
            job_id, at_front, meta, retry, on_success, on_failure, on_stopped,
        )  # fmt: skip

    def enqueue_many(self, job_datas: Iterable[EnqueueData], pipeline: Any = None) -> list[Job]:
        """Enqueue many jobs in one round trip, all or nothing.

        Every job is checked before anything is written, and if one is refused (a duplicate
        ``unique`` job, a dependency cycle...), none is enqueued. A job may depend on a job listed
        before or after it in the same batch: it waits for it. With ``is_async=False`` the jobs
        run once the whole batch is stored, in order (a job released by one that ran, before or
        after it in the batch, runs too).
        """
        datas = list(job_datas)
        jobs = [
            self.create_job(**{name: value for name, value in data._asdict().items() if name != "at_front"})
            for data in datas
        ]
        # Every record is built (serialized, size-checked) before the first write, in both modes:
        # one bad job in the batch leaves the store untouched.
        requests = [self._request(job, at_front=data.at_front) for job, data in zip(jobs, datas, strict=True)]
        # The broker checks every request before it writes any: a refused batch writes (and, with
        # is_async=False, runs) nothing.
        outcomes = self.broker.enqueue_many(requests)
        for job, outcome in zip(jobs, outcomes, strict=True):
            if outcome.status is None and outcome.reason is not RefusalReason.BATCH:
                raise _refusal(job, outcome)
        for job, outcome in zip(jobs, outcomes, strict=True):
            self._apply_outcome(job, outcome)
        if not self._is_async:
            self._run_batch(jobs)
        return jobs

    def _run_batch(self, jobs: Sequence[Job]) -> None:
        """Run the queued jobs of a stored batch in order (``is_async=False``), and again while a
        run released jobs (a child may be listed before its parent)."""
        pending = list(jobs)
        while pending:
            waiting: list[Job] = []
            for job in pending:
                if job.get_status(refresh=False) == JobStatus.DEFERRED:
                    # A job run before it may have released it (or canceled it, maybe not kept).
                    try:
                        job.get_status(refresh=True)
                    except NoSuchJobError:
                        continue
                status = job.get_status(refresh=False)
                if status == JobStatus.QUEUED:
                    self.run_sync(job)
                elif status == JobStatus.DEFERRED:
                    waiting.append(job)
            if len(waiting) == len(pending):
                break
            pending = waiting
        for job in pending:
            # It waits for a job outside the batch: one running now may release it.
            self._note_deferred(job)

    def enqueue_job(
        self, job: Job, pipeline: Any = None, at_front: bool = False, unique: bool = False
    ) -> Job:
        """Store and place a job made with :meth:`Job.create` or :meth:`create_job`.

        With ``is_async=False`` the job runs now, in this process, and is returned finished or
        failed.
        """
        return self._enqueue_request(job, self._request(job, at_front=at_front, unique=unique))

    def _enqueue_request(self, job: Job, request: EnqueueRequest) -> Job:
        """Write a built request; with ``is_async=False`` run the job if it was queued."""
        outcome = self.broker.enqueue(request)
        self._apply_outcome(job, outcome)
        if not self._is_async:
            if outcome.status == JobStatus.QUEUED.value:
                self.run_sync(job)
            elif outcome.status == JobStatus.DEFERRED.value:
                self._note_deferred(job)
        return job

    def _note_deferred(self, job: Job) -> None:
        """A job this synchronous queue deferred runs when a synchronous run releases it."""
        from jq import synchronous

        synchronous.note_deferred(self, job)

    def enqueue_job_once(self, job: Job, marker: str, value: float) -> bool:
        """Enqueue ``job`` only if the marker ``marker`` is below ``value`` (or unset), setting it
        to ``value`` in the same atomic step; whether the job was enqueued.

        However many processes try with the same marker and value, one succeeds: the cron
        scheduler fires each tick this way.
        """
        outcome = self.broker.enqueue(self._request(job, once=(marker, value)))
        if outcome.reason is RefusalReason.ALREADY:
            return False
        self._apply_outcome(job, outcome)
        return True

    def enqueue_at(self, datetime_: datetime.datetime, f: Any, *args: Any, **kwargs: Any) -> Job:
        """Put ``f(*args, **kwargs)`` in the scheduled registry until ``datetime_``.

        A naive datetime is taken as UTC. A worker started with ``with_scheduler=True`` queues the
        job once it is due.
        """
        func, options, call_args, call_kwargs = self.parse_args(f, *args, **kwargs)
        if validate_flag(options.get("at_front", False), name="at_front"):
            raise ConfigurationError("at_front does not apply to a scheduled job; it is queued when due")
        job = self._create_from_options(func, call_args, call_kwargs, options)
        return self.schedule_job(job, datetime_, unique=options.get("unique", False))

    def enqueue_in(self, time_delta: datetime.timedelta, f: Any, *args: Any, **kwargs: Any) -> Job:
        """Like :meth:`enqueue_at`, ``time_delta`` from now."""
        if not isinstance(time_delta, datetime.timedelta):
            raise ConfigurationError(
                f"enqueue_in needs a datetime.timedelta, not {type(time_delta).__name__}: "
                "pass timedelta(seconds=...)"
            )
        try:
            # The scheduling clock, so that a test that moved it schedules from the moved time.
            when = scheduling_now() + time_delta
        except OverflowError:
            raise ConfigurationError(f"enqueue_in({time_delta!r}) is past the year 9999") from None
        return self.enqueue_at(when, f, *args, **kwargs)

    def schedule_job(self, job: Job, datetime_: datetime.datetime, unique: bool = False) -> Job:
        """Store a job in the scheduled registry until ``datetime_`` (naive: UTC)."""
        if not isinstance(datetime_, datetime.datetime):
            raise ConfigurationError(f"enqueue_at needs a datetime, not {type(datetime_).__name__}")
        if datetime_.tzinfo is None:
            datetime_ = datetime_.replace(tzinfo=datetime.timezone.utc)
        outcome = self.broker.enqueue(self._request(job, scheduled_at=datetime_.timestamp(), unique=unique))
        self._apply_outcome(job, outcome)
        return job

    def _request(
        self,
        job: Job,
        at_front: bool = False,
        scheduled_at: float | None = None,
        unique: bool = False,
        once: tuple[str, float] | None = None,
    ) -> EnqueueRequest:
        """The broker request for ``job``: every option checked, the record built; nothing written.

        Serializing and the size check happen here, so every kind of enqueue refuses a call that
        cannot be stored before it reaches the broker. The size is checked on the final record
        (after any signing serializer), against this queue's limit; a worker that later rewrites
        the record does not check again, so a worker with a lower limit never refuses a job that
        was accepted.
        """
        at_front = validate_flag(at_front, name="at_front")
        unique = validate_flag(unique, name="unique")
        if unique and not job._id_given:
            raise ConfigurationError("unique=True needs a job_id: uniqueness is per job id")
        job.origin = self.name
        if job.timeout is None:
            job.timeout = self._default_timeout
        job.enqueued_at = now()
        # The broker writes the status it decides on (queued, deferred, scheduled, canceled).
        job._status = None
        fields = job.to_record()
        check_record_size(job.id, fields, self._max_payload_size)
        return EnqueueRequest(
            job_id=job.id,
            queue=self.name,
            fields=fields,
            record_ttl=job.ttl,
            at_front=at_front,
            depends_on=tuple(job.dependency_ids),
            scheduled_at=scheduled_at,
            allow_failure=job.allow_dependency_failures,
            unique=unique,
            once=once,
        )

    def _apply_outcome(self, job: Job, outcome: EnqueueOutcome) -> None:
        if outcome.status is None:
            raise _refusal(job, outcome)
        job._status = JobStatus(outcome.status)
        get_plugin_manager().job_enqueued(job)

    def run_sync(self, job: Job) -> Job:
        """Run a queued job now, in this thread (``is_async=False``), and end it as a worker
        would: its retries at once, its timeout enforced, then the jobs its outcome released
        (see :mod:`jq.synchronous`)."""
        from jq import synchronous

        return synchronous.run_now(self, job)
