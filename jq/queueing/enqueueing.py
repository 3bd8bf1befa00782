"""Putting calls on a queue: ``enqueue`` and its relatives, as a part of :class:`jq.queue.Queue`.

The calls go the way RQ documents, so that a subclass overriding one step sees every enqueue
pass through it: ``enqueue`` → :meth:`~Enqueueing.parse_args` → :meth:`~Enqueueing.enqueue_call`
→ :meth:`~Enqueueing.create_job` → :meth:`~Enqueueing.enqueue_job`; ``enqueue_at`` /
``enqueue_in`` → ``create_job`` → :meth:`~Enqueueing.schedule_job`.

``pipeline=`` (a redis-py pipeline of the queue's connection) queues the writes on the caller's
pipeline: nothing is stored until ``pipeline.execute()`` (see
:meth:`jq.broker.Broker.pipeline_writes`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from jq.base.timeouts import BaseDeathPenalty
from jq.base.utils import now, parse_timeout, validate_flag
from jq.broker import Broker, EnqueueRequest, RefusalReason
from jq.broker.clock import due_time
from jq.core.callbacks import Callback
from jq.core.group import check_group_name, groups_of
from jq.core.job import Job, JobStatus
from jq.core.payload import check_record_size
from jq.core.rate_limit import check_rate_limit
from jq.core.repeat import Repeat
from jq.core.retry import Retry
from jq.exceptions import (
    ConfigurationError,
    NoSuchJobError,
)
from jq.io.serializers import Serializer
from jq.plugins import get_plugin_manager
from jq.queueing import batches, synchronous
from jq.queueing.enqueue_options import EnqueueArgs, EnqueueData, parse_enqueue_args
from jq.queueing.enqueue_outcomes import WAITING, apply_outcomes, expected_status, refusal

__all__ = ["EnqueueArgs", "EnqueueData", "Enqueueing"]


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
    #: The jobs this queue makes plain enqueues from, by function (see batches.model_enqueue).
    _enqueue_models: dict[object, batches.EnqueueModel] | None = None

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
        repeat: Any = None,
        *,
        on_success: Callback | Callable[..., Any] | None = None,
        on_failure: Callback | Callable[..., Any] | None = None,
        on_stopped: Callback | Callable[..., Any] | None = None,
        webhooks: Any = None,
        group_id: str | None = None,
        rate_limit: Any = None,
    ) -> Job:
        """A job of this queue with every option checked; nothing is written.

        ``repeat`` (a :class:`~jq.repeat.Repeat`): the job runs again after each success, as it
        says. ``rate_limit`` (a :class:`~jq.rate_limit.RateLimit`): at most its ``concurrency``
        jobs of its ``key`` are queued or running at once, the others wait (status
        ``rate_limited``; see docs/scheduling.md); a broker that cannot enforce it refuses with
        :class:`UnsupportedByBrokerError`. ``webhooks``, ``group_id``: see :meth:`Job.create`.
        None of them is ever passed to the function.
        """
        if repeat is not None and not isinstance(repeat, Repeat):
            raise TypeError(f"repeat must be a Repeat(times, interval), not {repeat!r}")
        if rate_limit is not None:
            check_rate_limit(rate_limit, self.broker)
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
            webhooks=webhooks,
            group_id=group_id,
        )
        if repeat is not None:
            job.repeats_left = repeat.times
            job.repeat_intervals = list(repeat.intervals)
        if rate_limit is not None:
            job.rate_limit_key, job.rate_limit_concurrency = rate_limit.key, rate_limit.concurrency
        return job

    @classmethod
    def parse_args(cls, f: Any, *args: Any, **kwargs: Any) -> EnqueueArgs:
        """Split ``enqueue()``'s arguments into the function, enqueue's options and the call's
        own arguments (an :class:`EnqueueArgs`).

        ``args=`` and ``kwargs=`` pass arguments whose names clash with enqueue's own options.
        """
        return parse_enqueue_args(f, args, kwargs)

    def enqueue(self, f: Any, *args: Any, **kwargs: Any) -> Job:
        """Put ``f(*args, **kwargs)`` on the queue; returns the :class:`Job`.

        enqueue's own options (``job_timeout``, ``result_ttl``, ``ttl``, ``failure_ttl``,
        ``depends_on``, ``job_id``, ``at_front``, ``description``, ``meta``, ``retry``,
        ``on_success``, ``on_failure``, ``on_stopped``, ``unique``, ``pipeline``, and RQ 3.0's
        ``repeat``, ``rate_limit`` and ``webhooks``) are taken out of the keyword arguments; use
        ``args=``/``kwargs=`` to pass arguments with those names to ``f``. The job is enqueued by
        :meth:`enqueue_call`, which a subclass may override.

        ``unique=True`` (with a ``job_id``) refuses, with :class:`DuplicateJobError`, while a job
        with that id exists.
        """
        parsed = self.parse_args(f, *args, **kwargs)
        if (
            self._is_async
            and (
                type(self).parse_args.__func__,  # type: ignore[attr-defined]
                type(self).enqueue_call,
                type(self).create_job,
                type(self).enqueue_job,
            )
            == _PLAIN_STEPS
        ):
            # Every step is jq's own: a plain enqueue is made from the queue's model of the
            # function (see batches.model_enqueue), which gives what these steps would.
            job = batches.model_enqueue(self, parsed)
            if job is not None:
                return job
        return self.enqueue_call(
            func=parsed.func,
            args=parsed.args,
            kwargs=parsed.kwargs,
            timeout=parsed.timeout,
            result_ttl=parsed.result_ttl,
            ttl=parsed.ttl,
            failure_ttl=parsed.failure_ttl,
            description=parsed.description,
            depends_on=parsed.depends_on,
            job_id=parsed.job_id,
            at_front=parsed.at_front,
            meta=parsed.meta,
            retry=parsed.retry,
            repeat=parsed.repeat,
            on_success=parsed.on_success,
            on_failure=parsed.on_failure,
            on_stopped=parsed.on_stopped,
            rate_limit=parsed.rate_limit,
            webhooks=parsed.webhooks,
            pipeline=parsed.pipeline,
            unique=parsed.unique,
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
        at_front: Any = False,
        meta: dict[str, Any] | None = None,
        retry: Retry | None = None,
        repeat: Any = None,
        on_success: Callback | Callable[..., Any] | None = None,
        on_failure: Callback | Callable[..., Any] | None = None,
        on_stopped: Callback | Callable[..., Any] | None = None,
        rate_limit: Any = None,
        pipeline: Any = None,
        unique: bool = False,
        webhooks: Any = None,
    ) -> Job:
        """Put ``func(*args, **kwargs)`` on the queue, every option explicit (see :meth:`enqueue`)."""
        if validate_flag(unique, name="unique") and job_id is None:
            raise ConfigurationError("unique=True needs a job_id: uniqueness is per job id")
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
            status=JobStatus.QUEUED,
            retry=retry,
            repeat=repeat,
            on_success=on_success,
            on_failure=on_failure,
            on_stopped=on_stopped,
            rate_limit=rate_limit,
            webhooks=webhooks,
        )
        return self.enqueue_job(job, pipeline=pipeline, at_front=at_front, unique=unique)

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
        depends_on: Any = None,
        job_id: str | None = None,
        at_front: bool = False,
        meta: dict[str, Any] | None = None,
        retry: Retry | None = None,
        on_success: Callback | Callable[..., Any] | None = None,
        on_failure: Callback | Callable[..., Any] | None = None,
        on_stopped: Callback | Callable[..., Any] | None = None,
        repeat: Any = None,
        webhooks: Any = None,
    ) -> EnqueueData:
        """Describe one job for :meth:`enqueue_many`."""
        return EnqueueData(
            func, args, kwargs, timeout, result_ttl, ttl, failure_ttl, description, depends_on,
            job_id, at_front, meta, retry, on_success, on_failure, on_stopped, repeat, webhooks,
        )  # fmt: skip

    def enqueue_many(
        self, job_datas: Iterable[EnqueueData], pipeline: Any = None, group_id: str | None = None
    ) -> list[Job]:
        """Enqueue many jobs in one round trip, all or nothing.

        Every job is checked before anything is written, and if one is refused (a job id given
        twice, a duplicate ``unique`` job, a dependency cycle...), none is enqueued. A job may
        depend on a job listed before or after it in the same batch: it waits for it. With
        ``is_async=False`` the jobs run once the whole batch is stored, in order (a job released
        by one that ran, before or after it in the batch, runs too). With ``pipeline``, the batch
        is queued on it and stored (or refused) by ``pipeline.execute()``. With ``group_id``,
        each job joins that :class:`~jq.group.Group` in the same step as its enqueue.
        """
        if group_id is not None:
            groups_of(self.broker)
            check_group_name(group_id)
        datas = list(job_datas) if isinstance(job_datas, Iterable) else [job_datas]
        seen: set[str] = set()
        for data in datas:
            if not isinstance(data, EnqueueData):
                raise ConfigurationError(
                    "enqueue_many() takes a list of Queue.prepare_data(func, args, kwargs, ...), not "
                    f"{type(data).__name__} {data!r}"
                )
            if data.job_id is not None:
                # Two jobs under one id would be one record: the first would be lost.
                if data.job_id in seen:
                    raise ConfigurationError(
                        f"Job ID {data.job_id!r} appears more than once in enqueue_many()"
                    )
                seen.add(data.job_id)
        # A Queue subclass's own create_job must see every job (see batches.create_batch).
        overridden = type(self).create_job is not Enqueueing.create_job
        jobs, models = batches.create_batch(self, datas, group_id, whole=overridden)
        scope = get_plugin_manager().enqueue_scope(jobs, self.name)
        with scope:
            if not isinstance(scope, contextlib.nullcontext):
                # A plugin's scope may have changed any job in any way: each record is built whole.
                models = [None] * len(jobs)
            # Every record is built (serialized, size-checked) before the first write, in both
            # modes: one bad job in the batch leaves the store untouched.
            requests = batches.batch_requests(self, jobs, datas, models)
            if pipeline is not None:
                self._pipeline_writes(pipeline).enqueue_many(requests)
                for job, request in zip(jobs, requests, strict=True):
                    job.note_status(expected_status(request))
                return jobs
            # The broker checks every request before it writes any: a refused batch writes (and,
            # with is_async=False, runs) nothing.
            outcomes = self.broker.enqueue_many(requests)
            for job, outcome in zip(jobs, outcomes, strict=True):
                if outcome.status is None and outcome.reason is not RefusalReason.BATCH:
                    raise refusal(job, outcome)
            apply_outcomes(self.broker, jobs, outcomes)
        if not self._is_async:
            self._run_batch(jobs)
        return jobs

    def _create_from_data(self, data: EnqueueData, group_id: str | None = None) -> Job:
        return self.create_job(
            data.func,
            args=data.args,
            kwargs=data.kwargs,
            timeout=data.timeout,
            result_ttl=data.result_ttl,
            ttl=data.ttl,
            failure_ttl=data.failure_ttl,
            description=data.description,
            depends_on=data.depends_on,
            job_id=data.job_id,
            meta=data.meta,
            retry=data.retry,
            repeat=data.repeat,
            on_success=data.on_success,
            on_failure=data.on_failure,
            on_stopped=data.on_stopped,
            webhooks=data.webhooks,
            group_id=group_id,
        )

    def _run_batch(self, jobs: Sequence[Job]) -> None:
        """Run the queued jobs of a stored batch in order (``is_async=False``), and again while a
        run released jobs (a child may be listed before its parent)."""
        pending = list(jobs)
        while pending:
            waiting: list[Job] = []
            for job in pending:
                if job.get_status(refresh=False) in WAITING:
                    # A job run before it may have released it or freed a rate-limit slot for it
                    # (or canceled it, maybe not kept).
                    try:
                        job.get_status(refresh=True)
                    except NoSuchJobError:
                        continue
                status = job.get_status(refresh=False)
                if status == JobStatus.QUEUED:
                    self.run_sync(job)
                elif status in WAITING:
                    waiting.append(job)
            if len(waiting) == len(pending):
                break
            pending = waiting
        for job in pending:
            # It waits for a job outside the batch: one running now may release it.
            self._note_deferred(job)

    def enqueue_job(self, job: Job, pipeline: Any = None, at_front: Any = False, unique: bool = False) -> Job:
        """Store and place a job made with :meth:`Job.create` or :meth:`create_job`: on its queue,
        or deferred until its dependencies finished.

        With ``is_async=False`` the job runs now, in this process, and is returned finished or
        failed. With ``pipeline``, the job is stored by ``pipeline.execute()`` (but with
        ``unique=True``, which must answer at once whether the id is taken: then it is stored
        now, as RQ does).
        """
        return self._enqueue_request(
            job, lambda: self._request(job, at_front=at_front, unique=unique), None if unique else pipeline
        )

    def _enqueue_job(
        self, job: Job, pipeline: Any = None, at_front: Any = False, unique: bool = False
    ) -> Job:
        """:meth:`enqueue_job` without waiting for the job's dependencies, as RQ's private method
        of that name, which add-ons call: django-rq's "enqueue" action runs a deferred job now.

        A job that was deferred leaves the deferred registry and no longer waits for (nor is
        released by) its dependencies; its record still lists them.
        """
        return self._enqueue_request(
            job,
            lambda: self._request(job, at_front=at_front, unique=unique, wait_for_dependencies=False),
            None if unique else pipeline,
        )

    def _pipeline_writes(self, pipeline: Any) -> Any:
        if not self._is_async:
            raise ConfigurationError(
                "pipeline= cannot be used with a queue made with is_async=False: its jobs run at "
                "once, before the pipeline is executed"
            )
        return self.broker.pipeline_writes(pipeline)

    def _enqueue_on_pipeline(self, job: Job, request: EnqueueRequest, pipeline: Any) -> Job:
        """Queue the enqueue on the caller's pipeline. Its outcome is known once the pipeline is
        executed: until then the job says the status it will get unless its dependencies ended
        meanwhile (``job.get_status()`` reads the real one)."""
        self._pipeline_writes(pipeline).enqueue(request)
        job.note_status(expected_status(request))
        return job

    def _enqueue_request(self, job: Job, build: Callable[[], EnqueueRequest], pipeline: Any = None) -> Job:
        """Build the job's request and write it (on ``pipeline`` when given), within the plugins'
        enqueue scopes; then, with ``is_async=False``, run the job if it was queued."""
        with get_plugin_manager().enqueue_scope([job], self.name):
            request = build()
            if pipeline is not None:
                return self._enqueue_on_pipeline(job, request, pipeline)
            outcome = self.broker.enqueue(request)
            apply_outcomes(self.broker, (job,), (outcome,))
        if not self._is_async:
            if outcome.status == JobStatus.QUEUED.value:
                self.run_sync(job)
            elif outcome.status in WAITING:
                self._note_deferred(job)
        return job

    def _note_deferred(self, job: Job) -> None:
        """A job this synchronous queue deferred runs when a synchronous run releases it."""
        synchronous.note_deferred(self, job)

    def enqueue_job_once(self, job: Job, marker: str, value: float) -> bool:
        """Enqueue ``job`` only if the marker ``marker`` is below ``value`` (or unset), setting it
        to ``value`` in the same atomic step; whether the job was enqueued.

        However many processes try with the same marker and value, one succeeds: the cron
        scheduler fires each tick this way.
        """
        with get_plugin_manager().enqueue_scope([job], self.name):
            outcome = self.broker.enqueue(self._request(job, once=(marker, value)))
            if outcome.reason is RefusalReason.ALREADY:
                return False
            apply_outcomes(self.broker, (job,), (outcome,))
        return True

    def enqueue_at(self, datetime: dt.datetime, f: Any, *args: Any, **kwargs: Any) -> Job:
        """Put ``f(*args, **kwargs)`` in the scheduled registry until ``datetime``.

        A naive datetime is the local time of this machine, as in RQ. A worker started with
        ``with_scheduler=True`` (or a :class:`~jq.scheduler.Scheduler`) queues the job once it is
        due, at the front of its queue with ``at_front=True``. Takes enqueue's options.
        """
        parsed = self.parse_args(f, *args, **kwargs)
        if validate_flag(parsed.unique, name="unique") and parsed.job_id is None:
            raise ConfigurationError("unique=True needs a job_id: uniqueness is per job id")
        job = self.create_job(
            parsed.func,
            status=JobStatus.SCHEDULED,
            args=parsed.args,
            kwargs=parsed.kwargs,
            timeout=parsed.timeout,
            result_ttl=parsed.result_ttl,
            ttl=parsed.ttl,
            failure_ttl=parsed.failure_ttl,
            description=parsed.description,
            depends_on=parsed.depends_on,
            job_id=parsed.job_id,
            meta=parsed.meta,
            retry=parsed.retry,
            repeat=parsed.repeat,
            on_success=parsed.on_success,
            on_failure=parsed.on_failure,
            on_stopped=parsed.on_stopped,
            rate_limit=parsed.rate_limit,
            webhooks=parsed.webhooks,
        )
        if parsed.at_front:
            job.enqueue_at_front = True
        return self.schedule_job(job, datetime, pipeline=parsed.pipeline, unique=parsed.unique)

    def enqueue_in(self, time_delta: dt.timedelta, func: Any, *args: Any, **kwargs: Any) -> Job:
        """Like :meth:`enqueue_at`, ``time_delta`` from now."""
        if not isinstance(time_delta, dt.timedelta):
            raise ConfigurationError(
                f"enqueue_in needs a datetime.timedelta, not {type(time_delta).__name__}: "
                "pass timedelta(seconds=...)"
            )
        try:
            # The store's clock, so that a producer whose own clock is off does not schedule the
            # job early or late; a test's installed clock when it moved one (see jq.clock).
            start = dt.datetime.fromtimestamp(due_time(self.broker), dt.timezone.utc)
            when = start + time_delta
        except OverflowError:
            edge = "past the year 9999" if time_delta > dt.timedelta(0) else "before the year 1"
            raise ConfigurationError(f"enqueue_in({time_delta!r}) is {edge}") from None
        return self.enqueue_at(when, func, *args, **kwargs)

    def schedule_job(
        self, job: Job, datetime: dt.datetime, pipeline: Any = None, unique: bool = False
    ) -> Job:
        """Store a job in the scheduled registry until ``datetime`` (naive: this machine's local
        time); with ``pipeline``, by ``pipeline.execute()`` (see :meth:`enqueue_job`)."""
        if not isinstance(datetime, dt.datetime):
            raise ConfigurationError(f"enqueue_at needs a datetime, not {type(datetime).__name__}")
        try:
            # astimezone() reads a naive datetime as local time, as RQ does.
            when = datetime.astimezone(dt.timezone.utc)
        except (ValueError, OverflowError) as exc:  # datetime.min in a zone east of UTC, say
            raise ConfigurationError(
                f"enqueue_at({datetime.isoformat()}) cannot be read as a time in UTC ({exc}): pass a "
                "datetime between the years 1 and 9999, with its zone if it is not this machine's"
            ) from None
        with get_plugin_manager().enqueue_scope([job], self.name):
            request = self._request(job, scheduled_at=when.timestamp(), unique=unique)
            if pipeline is not None and not unique:
                return self._enqueue_on_pipeline(job, request, pipeline)
            outcome = self.broker.enqueue(request)
            apply_outcomes(self.broker, (job,), (outcome,))
        return job

    def _request(
        self,
        job: Job,
        at_front: Any = False,
        scheduled_at: float | None = None,
        unique: bool = False,
        once: tuple[str, float] | None = None,
        wait_for_dependencies: bool = True,
    ) -> EnqueueRequest:
        """The broker request for ``job``: every option checked, the record built; nothing written.
        Without ``wait_for_dependencies``, the job is placed as if it had none.

        Serializing and the size check happen here, so every kind of enqueue refuses a call that
        cannot be stored before it reaches the broker. The size is checked on the final record
        (after any signing serializer), against this queue's limit; a worker that later rewrites
        the record does not check again, so a worker with a lower limit never refuses a job that
        was accepted.
        """
        unique = validate_flag(unique, name="unique")
        if unique and not job.id_given:
            raise ConfigurationError("unique=True needs a job_id: uniqueness is per job id")
        depends_on = tuple(job.dependency_ids) if wait_for_dependencies else ()
        if unique and depends_on:
            raise ConfigurationError("unique=True is not supported with job dependencies (depends_on)")
        if job.group_id is not None and not self.broker.supports_groups:
            groups_of(self.broker)  # raises: this broker stores no groups
        job.origin = self.name
        if job.timeout is None:
            job.timeout = self._default_timeout
        # A job is enqueued when it is put on its queue: a scheduled, deferred or rate-limited
        # one gets its enqueued_at when it is queued (see apply_outcomes for one queued at once).
        queued_now = scheduled_at is None and not depends_on and not job.has_rate_limit
        job.enqueued_at = now() if queued_now else None
        # The broker writes the status it decides on (queued, deferred, scheduled, canceled).
        job.note_status(None)
        fields = job.to_record()
        check_record_size(job.id, fields, self._max_payload_size)
        return EnqueueRequest(
            job_id=job.id,
            queue=self.name,
            fields=fields,
            record_ttl=job.ttl,
            at_front=bool(at_front),
            depends_on=depends_on,
            scheduled_at=scheduled_at,
            allow_failure=job.allow_dependency_failures,
            unique=unique,
            once=once,
            group=job.group_id,
        )

    def run_sync(self, job: Job) -> Job:
        """Run a queued job now, in this thread (``is_async=False``), and end it as a worker
        would: its retries at once, its timeout enforced, then the jobs its outcome released
        (see :mod:`jq.queueing.synchronous`)."""
        return synchronous.run_now(self, job)


#: enqueue()'s steps as jq defines them: a Queue subclass overriding one sees every enqueue go
#: through it, as in RQ (see Enqueueing.enqueue).
_PLAIN_STEPS = (
    Enqueueing.parse_args.__func__,  # type: ignore[attr-defined]
    Enqueueing.enqueue_call,
    Enqueueing.create_job,
    Enqueueing.enqueue_job,
)
