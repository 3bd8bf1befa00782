"""Queues: named lines of jobs, and the way to put calls on them."""

from __future__ import annotations

from typing import Any, Generic, NamedTuple, TypeVar, overload

from jq.broker import Broker, Place, PlaceKind, Transition
from jq.connections import resolve_broker
from jq.defaults import DEFAULT_JOB_TIMEOUT
from jq.enqueueing import EnqueueData, Enqueueing
from jq.exceptions import ConfigurationError, NoSuchJobError
from jq.job import Job
from jq.payload import resolve_max_payload_size
from jq.registry import (
    BaseRegistry,
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from jq.serializers import resolve_serializer
from jq.timeouts import BaseDeathPenalty
from jq.utils import import_attribute, parse_timeout, validate_queue_name

__all__ = ["DEFAULT_TIMEOUT", "EnqueueArgs", "EnqueueData", "Queue"]

#: Seconds a job may run unless its queue or the job says otherwise.
DEFAULT_TIMEOUT = DEFAULT_JOB_TIMEOUT


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


def _death_penalty_class(value: Any) -> type[BaseDeathPenalty] | None:
    """``Queue(death_penalty_class=...)`` checked: a BaseDeathPenalty subclass (or its dotted
    path), or None."""
    if value is None:
        return None
    if isinstance(value, str):
        value = import_attribute(value)
    if not (isinstance(value, type) and issubclass(value, BaseDeathPenalty)):
        raise ConfigurationError(
            f"death_penalty_class must be a subclass of jq.timeouts.BaseDeathPenalty (or its dotted "
            f"path), not {value!r}"
        )
    return value


class Queue(Enqueueing):
    """A named queue of jobs in a broker.

    :param name: letters, digits, ``_ - . :`` (created on first enqueue).
    :param default_timeout: seconds (or ``'5m'`` forms) a job may run; default 180, -1 no limit.
    :param connection: a redis-py client, a broker or a URL; see :mod:`jq.connections`.
    :param is_async: False runs each job at once, in the enqueuing thread, and ends it exactly
        as a worker would before ``enqueue`` returns: its outcome recorded in the same statuses
        and registries, its callbacks run, its ``job_timeout`` enforced (SIGALRM in the main
        thread, a timer thread elsewhere), its retries run at once (``Retry`` intervals are not
        waited for), and the jobs it releases (dependents a synchronous queue deferred) run too.
        See :mod:`jq.synchronous`.
    :param job_class: the :class:`Job` subclass (or its dotted path) for jobs of this queue.
    :param serializer: see :func:`jq.serializers.resolve_serializer`.
    :param death_penalty_class: the :class:`~jq.timeouts.BaseDeathPenalty` subclass (or its
        dotted path) enforcing timeouts of the jobs ``is_async=False`` runs; None: SIGALRM in the
        main thread, a timer thread elsewhere. Workers choose their own.
    :param max_payload_size: the most bytes one job's record (its serialized call, meta and
        description) may take; a bigger job is refused with :class:`PayloadTooLargeError` and
        nothing is written. None: ``JQ_MAX_PAYLOAD_SIZE``, else 16 MiB; ``-1``: no limit; also
        ``'16M'`` forms. See :mod:`jq.payload`.
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
        max_payload_size: int | str | None = None,
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
        self.death_penalty_class = _death_penalty_class(death_penalty_class)
        self._max_payload_size = resolve_max_payload_size(max_payload_size)

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
    def max_payload_size(self) -> int | None:
        """The most bytes one job's record may take, or None for no limit."""
        return self._max_payload_size

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


class EnqueueArgs(NamedTuple):
    """RQ's record of what ``enqueue`` was asked (``Queue.parse_args`` in RQ)."""

    func: Any
    timeout: int | str | None
    description: str | None
    result_ttl: int | None
    ttl: int | None
    failure_ttl: int | None
    depends_on: Any
    job_id: str | None
    at_front: bool
    meta: dict[str, Any] | None
    retry: Any
    repeat: Any
    on_success: Any
    on_failure: Any
    on_stopped: Any
    rate_limit: Any
    pipeline: Any
    unique: bool
    args: tuple[Any, ...] | list[Any] | None
    kwargs: dict[str, Any] | None
    webhooks: Any
