"""Queues: named lines of jobs, and the way to put calls on them."""

from __future__ import annotations

import datetime
import math
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, NamedTuple, TypeVar, overload

from jq import lifecycle
from jq.broker import Broker, EnqueueOutcome, EnqueueRequest, Place, PlaceKind, Transition
from jq.callbacks import Callback
from jq.connections import resolve_broker
from jq.defaults import DEFAULT_JOB_TIMEOUT, effective_timeout
from jq.exceptions import ConfigurationError, NoSuchJobError
from jq.job import Job, JobStatus
from jq.plugins import get_plugin_manager
from jq.registry import (
    BaseRegistry,
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from jq.retry import Retry
from jq.serializers import resolve_serializer
from jq.utils import import_attribute, now, parse_timeout, validate_queue_name

__all__ = ["DEFAULT_TIMEOUT", "EnqueueData", "Queue"]

#: Seconds a job may run unless its queue or the job says otherwise.
DEFAULT_TIMEOUT = DEFAULT_JOB_TIMEOUT

# enqueue()'s own keyword options; everything else goes to the job's function.
_ENQUEUE_OPTIONS = (
    "job_timeout",
    "description",
    "result_ttl",
    "ttl",
    "failure_ttl",
    "depends_on",
    "job_id",
    "at_front",
    "meta",
    "retry",
    "on_success",
    "on_failure",
    "on_stopped",
    "pipeline",
)


RegistryT = TypeVar("RegistryT", bound=BaseRegistry)


class QueueRegistry(Generic[RegistryT]):
    """A registry attribute of a queue (``queue.failed_job_registry``), made on first access."""

    def __init__(self, registry_class: type[RegistryT], doc: str) -> None:
        self.registry_class = registry_class
        self.__doc__ = doc
        self.attribute = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.attribute = name

    @overload
    def __get__(self, queue: None, owner: type) -> QueueRegistry[RegistryT]: ...

    @overload
    def __get__(self, queue: Queue, owner: type) -> RegistryT: ...

    def __get__(self, queue: Queue | None, owner: type) -> QueueRegistry[RegistryT] | RegistryT:
        if queue is None:
            return self
        registry = self.registry_class(
            queue.name, connection=queue.broker, job_class=queue.job_class, serializer=queue.serializer
        )
        # Cached on the instance: later lookups find it there and skip this descriptor.
        queue.__dict__[self.attribute] = registry
        return registry


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


class Queue:
    """A named queue of jobs in a broker.

    :param name: letters, digits, ``_ - . :`` (created on first enqueue).
    :param default_timeout: seconds (or ``'5m'`` forms) a job may run; default 180, -1 no limit.
    :param connection: a redis-py client, a broker or a URL; see :mod:`jq.connections`.
    :param is_async: False runs each job at once, in this process, when it is enqueued.
    :param job_class: the :class:`Job` subclass (or its dotted path) for jobs of this queue.
    :param serializer: see :func:`jq.serializers.resolve_serializer`.
    """

    job_class: type[Job] = Job

    def __init__(
        self,
        name: str = "default",
        default_timeout: int | str | None = None,
        connection: Any = None,
        is_async: bool = True,
        job_class: type[Job] | str | None = None,
        serializer: Any = None,
        death_penalty_class: Any = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise TypeError(f"Queue() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        self.name = validate_queue_name(name)
        self.broker: Broker = resolve_broker(connection)
        timeout = parse_timeout(default_timeout, name="default_timeout")
        self._default_timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        self._is_async = is_async
        if isinstance(job_class, str):
            job_class = import_attribute(job_class)
        if job_class is not None:
            if not (isinstance(job_class, type) and issubclass(job_class, Job)):
                raise ConfigurationError(f"job_class must be a subclass of jq.job.Job, not {job_class!r}")
            self.job_class = job_class
        self.serializer = resolve_serializer(serializer)
        self.death_penalty_class = death_penalty_class

    # -- identity -----------------------------------------------------------------------------------

    @property
    def connection(self) -> Any:
        """The client of this queue's broker (a redis-py client, or the broker itself)."""
        return self.broker.connection

    @property
    def key(self) -> str:
        """The key of the queue's list of job ids."""
        return self.broker.queue_key(self.name)

    @property
    def is_async(self) -> bool:
        """False when jobs run at once in the enqueuing process."""
        return self._is_async

    @property
    def default_timeout(self) -> int:
        """Seconds a job of this queue may run unless it says otherwise."""
        return self._default_timeout

    @classmethod
    def all(
        cls, connection: Any = None, job_class: type[Job] | None = None, serializer: Any = None
    ) -> list[Queue]:
        """Every known queue of the broker, by name."""
        broker = resolve_broker(connection)
        return [
            cls(name, connection=broker, job_class=job_class, serializer=serializer)
            for name in broker.queue_names()
        ]

    @classmethod
    def from_queue_key(cls, queue_key: str, connection: Any = None, **kwargs: Any) -> Queue:
        """The queue whose :attr:`key` is ``queue_key``."""
        broker = resolve_broker(connection)
        prefix = broker.queue_key("")
        if not queue_key.startswith(prefix) or len(queue_key) == len(prefix):
            raise ConfigurationError(f"{queue_key!r} is not a queue key (expected {prefix}<name>)")
        return cls(queue_key[len(prefix) :], connection=broker, **kwargs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Queue) and other.name == self.name and other.broker is self.broker

    def __hash__(self) -> int:
        return hash((self.name, id(self.broker)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def __str__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    # -- registries -------------------------------------------------------------------------------

    started_job_registry = QueueRegistry(StartedJobRegistry, "Jobs a worker is running.")
    finished_job_registry = QueueRegistry(FinishedJobRegistry, "Jobs that succeeded, kept ``result_ttl``.")
    failed_job_registry = QueueRegistry(FailedJobRegistry, "Jobs that failed, kept ``failure_ttl``.")
    deferred_job_registry = QueueRegistry(DeferredJobRegistry, "Jobs waiting for their dependencies.")
    scheduled_job_registry = QueueRegistry(ScheduledJobRegistry, "Jobs waiting for their time.")
    canceled_job_registry = QueueRegistry(CanceledJobRegistry, "Jobs that were canceled.")

    # -- contents -----------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        # A Queue object is always truthy, even when empty (``if queue:`` means "given").
        return True

    @property
    def count(self) -> int:
        """How many jobs wait in the queue."""
        return self.broker.queue_length(self.name)

    def is_empty(self) -> bool:
        """Whether no job waits in the queue."""
        return self.count == 0

    def get_job_ids(self, offset: int = 0, length: int = -1) -> list[str]:
        """Ids of waiting jobs, front first, from ``offset`` (``length`` -1: all)."""
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

    def remove(self, job_or_id: Job | str) -> bool:
        """Take a job out of the queue without changing its record; whether it was there."""
        job_id = job_or_id.id if isinstance(job_or_id, Job) else job_or_id
        return self.broker.transition(
            Transition(job_id, source=Place(PlaceKind.QUEUE, self.name), target=None)
        )

    def empty(self) -> int:
        """Delete every waiting job; returns how many."""
        return self.broker.empty_queue(self.name)

    def delete(self, delete_jobs: bool = True) -> None:
        """Forget the queue (and, with ``delete_jobs``, its waiting jobs). Enqueueing recreates it."""
        self.broker.delete_queue(self.name, delete_jobs)

    # -- enqueueing -------------------------------------------------------------------------------

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
        options = {name: kwargs.pop(name) for name in _ENQUEUE_OPTIONS if name in kwargs}
        if "timeout" in kwargs and "job_timeout" not in options:
            # RQ's older spelling; kept so existing code keeps its timeout.
            options["job_timeout"] = kwargs.pop("timeout")
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

    def enqueue(self, f: Any, *args: Any, **kwargs: Any) -> Job:
        """Put ``f(*args, **kwargs)`` on the queue; returns the :class:`Job`.

        enqueue's own options (``job_timeout``, ``result_ttl``, ``ttl``, ``failure_ttl``,
        ``depends_on``, ``job_id``, ``at_front``, ``description``, ``meta``, ``retry``,
        ``on_success``, ``on_failure``, ``on_stopped``) are taken out of the keyword arguments;
        use ``args=``/``kwargs=`` to pass arguments with those names to ``f``.
        """
        func, options, call_args, call_kwargs = self.parse_args(f, *args, **kwargs)
        return self.enqueue_call(
            func,
            args=call_args,
            kwargs=call_kwargs,
            timeout=options.get("job_timeout"),
            result_ttl=options.get("result_ttl"),
            ttl=options.get("ttl"),
            failure_ttl=options.get("failure_ttl"),
            description=options.get("description"),
            depends_on=options.get("depends_on"),
            job_id=options.get("job_id"),
            at_front=options.get("at_front", False),
            meta=options.get("meta"),
            retry=options.get("retry"),
            on_success=options.get("on_success"),
            on_failure=options.get("on_failure"),
            on_stopped=options.get("on_stopped"),
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
        return self.enqueue_job(job, at_front=at_front)

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
        """Enqueue many jobs in one round trip. Every job is checked before anything is written."""
        datas = list(job_datas)
        jobs = [
            self.create_job(
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
                on_success=data.on_success,
                on_failure=data.on_failure,
                on_stopped=data.on_stopped,
            )
            for data in datas
        ]
        if not self._is_async:
            return [
                self.enqueue_job(job, at_front=data.at_front) for job, data in zip(jobs, datas, strict=True)
            ]
        requests = [self._request(job, at_front=data.at_front) for job, data in zip(jobs, datas, strict=True)]
        outcomes = self.broker.enqueue_many(requests)
        for job, outcome in zip(jobs, outcomes, strict=True):
            self._apply_outcome(job, outcome)
        return jobs

    def enqueue_job(self, job: Job, pipeline: Any = None, at_front: bool = False) -> Job:
        """Store and place a job made with :meth:`Job.create` or :meth:`create_job`.

        With ``is_async=False`` the job runs now, in this process, and is returned finished or
        failed.
        """
        outcome = self.broker.enqueue(self._request(job, at_front=at_front))
        self._apply_outcome(job, outcome)
        if not self._is_async and outcome.status == JobStatus.QUEUED.value:
            self.run_sync(job)
        return job

    def enqueue_at(self, datetime_: datetime.datetime, f: Any, *args: Any, **kwargs: Any) -> Job:
        """Put ``f(*args, **kwargs)`` in the scheduled registry until ``datetime_``.

        A naive datetime is taken as UTC. A worker started with ``with_scheduler=True`` queues the
        job once it is due.
        """
        func, options, call_args, call_kwargs = self.parse_args(f, *args, **kwargs)
        job = self.create_job(
            func,
            args=call_args,
            kwargs=call_kwargs,
            timeout=options.get("job_timeout"),
            result_ttl=options.get("result_ttl"),
            ttl=options.get("ttl"),
            failure_ttl=options.get("failure_ttl"),
            description=options.get("description"),
            depends_on=options.get("depends_on"),
            job_id=options.get("job_id"),
            meta=options.get("meta"),
            retry=options.get("retry"),
            on_success=options.get("on_success"),
            on_failure=options.get("on_failure"),
            on_stopped=options.get("on_stopped"),
        )
        return self.schedule_job(job, datetime_)

    def enqueue_in(self, time_delta: datetime.timedelta, f: Any, *args: Any, **kwargs: Any) -> Job:
        """Like :meth:`enqueue_at`, ``time_delta`` from now."""
        return self.enqueue_at(now() + time_delta, f, *args, **kwargs)

    def schedule_job(self, job: Job, datetime_: datetime.datetime) -> Job:
        """Store a job in the scheduled registry until ``datetime_`` (naive: UTC)."""
        if not isinstance(datetime_, datetime.datetime):
            raise ConfigurationError(f"enqueue_at needs a datetime, not {type(datetime_).__name__}")
        if datetime_.tzinfo is None:
            datetime_ = datetime_.replace(tzinfo=datetime.timezone.utc)
        outcome = self.broker.enqueue(self._request(job, scheduled_at=datetime_.timestamp()))
        self._apply_outcome(job, outcome)
        return job

    def _request(self, job: Job, at_front: bool = False, scheduled_at: float | None = None) -> EnqueueRequest:
        job.origin = self.name
        if job.timeout is None:
            job.timeout = self._default_timeout
        job.enqueued_at = now()
        # The broker writes the status it decides on (queued, deferred, scheduled, canceled).
        job._status = None
        return EnqueueRequest(
            job_id=job.id,
            queue=self.name,
            fields=job.to_record(),
            record_ttl=job.ttl,
            at_front=at_front,
            depends_on=tuple(job.dependency_ids),
            scheduled_at=scheduled_at,
            allow_failure=job.allow_dependency_failures,
        )

    def _apply_outcome(self, job: Job, outcome: EnqueueOutcome) -> None:
        if outcome.status is None:
            raise NoSuchJobError(
                f"job {job.id!r} depends on jobs that do not exist: {', '.join(outcome.missing)}; "
                "nothing was enqueued"
            )
        job._status = JobStatus(outcome.status)
        get_plugin_manager().job_enqueued(job)

    def run_sync(self, job: Job) -> Job:
        """Run a queued job now, in this process (``is_async=False``), and record its outcome."""
        from jq.execution import JobRunner

        execution_id = uuid.uuid4().hex
        fields = lifecycle.claim_fields("sync", execution_id)
        # No heartbeat renews this lease: it covers the whole timeout (forever without one).
        timeout = effective_timeout(job.timeout)
        lease_until = math.inf if timeout is None else time.time() + timeout + 60
        record = self.broker.claim_job(job.id, self.name, fields, lease_until)
        if record is None:
            # Someone else (a worker on the same queue) claimed it first; it runs there.
            return job
        job.refresh()
        JobRunner(worker=None, death_penalty_class=None).run(job)
        return job
