"""Queues: named lines of jobs, and the way to put calls on them."""

from __future__ import annotations

import functools
import logging
import warnings
from typing import Any, Generic, TypeVar, overload

from jq.base.timeouts import BaseDeathPenalty
from jq.base.utils import import_attribute, parse_timeout, public_module, validate_queue_name
from jq.broker import Broker
from jq.core.job import Job
from jq.core.job_layout import LayoutKey
from jq.core.payload import resolve_max_payload_size
from jq.defaults import DEFAULT_JOB_TIMEOUT
from jq.exceptions import ConfigurationError
from jq.io.connections import resolve_broker
from jq.io.serializers import resolve_serializer
from jq.queueing.enqueueing import EnqueueArgs, EnqueueData, Enqueueing
from jq.queueing.queue_contents import QueueContents
from jq.queueing.queue_internals import QueueInternals
from jq.queueing.registry import (
    BaseRegistry,
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    RateLimitedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)

__all__ = ["DEFAULT_TIMEOUT", "EnqueueArgs", "EnqueueData", "Queue"]

logger = logging.getLogger("jq.queue")

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


@functools.total_ordering
class Queue(QueueContents, QueueInternals, Enqueueing):
    """A named queue of jobs in a broker.

    :param name: letters, digits, ``_ - . :`` (created on first enqueue).
    :param connection: a redis-py client, a broker or a URL; see :mod:`jq.connections`.
    :param default_timeout: seconds (or ``'5m'`` forms) a job may run; default 180, -1 no limit.
    :param is_async: False runs each job at once, in the enqueuing thread, and ends it exactly
        as a worker would before ``enqueue`` returns: its outcome recorded in the same statuses
        and registries, its callbacks run, its ``job_timeout`` enforced (SIGALRM in the main
        thread, a timer thread elsewhere), its retries run at once (``Retry`` intervals are not
        waited for), and the jobs it releases (dependents a synchronous queue deferred) run too.
        See :mod:`jq.queueing.synchronous`.
    :param job_class: the :class:`Job` subclass (or its dotted path) for jobs of this queue.
    :param serializer: see :func:`jq.serializers.resolve_serializer`.
    :param death_penalty_class: the :class:`~jq.timeouts.BaseDeathPenalty` subclass (or its
        dotted path) enforcing timeouts of the jobs ``is_async=False`` runs; None: SIGALRM in the
        main thread, a timer thread elsewhere. Workers choose their own.
    :param max_payload_size: the most bytes one job's record (its serialized call, meta and
        description) may take; a bigger job is refused with :class:`PayloadTooLargeError` and
        nothing is written. None: ``JQ_MAX_PAYLOAD_SIZE``, else 16 MiB; ``-1``: no limit; also
        ``'16M'`` forms. See :mod:`jq.core.payload`.

    Queues compare, hash and sort by name, as in RQ (comparing one with anything but a queue
    raises :class:`TypeError`).
    """

    job_class: type[Job] = Job
    #: The class enforcing job timeouts when ``is_async=False`` runs them (None: the default).
    death_penalty_class: type[BaseDeathPenalty] | None = None
    #: Seconds a job may run unless its queue or the job says otherwise.
    DEFAULT_TIMEOUT: int = DEFAULT_TIMEOUT
    #: The start of every queue's key (``jq:queue:``); a queue's key is this and its name.
    redis_queue_namespace_prefix = LayoutKey(lambda broker: broker.queue_key(""), "The start of queue keys.")
    #: The key of the names of the known queues (``jq:queues``: it holds names, not keys).
    redis_queues_keys = LayoutKey(lambda broker: broker.queues_key(), "The key of the known queue names.")

    def __init__(
        self,
        name: str = "default",
        connection: Any = None,
        default_timeout: int | str | None = None,
        is_async: bool = True,
        job_class: type[Job] | str | None = None,
        serializer: Any = None,
        death_penalty_class: Any = None,
        max_payload_size: int | str | None = None,
        **kwargs: Any,
    ) -> None:
        if "async" in kwargs:
            warnings.warn("The `async` keyword is deprecated. Use `is_async` instead", DeprecationWarning, 2)
            is_async = kwargs.pop("async")
        if kwargs:
            raise TypeError(f"Queue() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        self.name = validate_queue_name(name)
        self.broker: Broker = resolve_broker(connection)
        timeout = parse_timeout(default_timeout, name="default_timeout")
        self._default_timeout = self.DEFAULT_TIMEOUT if timeout is None else timeout
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
        self.log = logger

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
        return bool(self._is_async)

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
        cls,
        connection: Any = None,
        job_class: type[Job] | None = None,
        serializer: Any = None,
        death_penalty_class: Any = None,
    ) -> list[Queue]:
        """Every known queue of the broker, by name."""
        broker = resolve_broker(connection)
        return [
            cls(
                name,
                connection=broker,
                job_class=job_class,
                serializer=serializer,
                death_penalty_class=death_penalty_class,
            )
            for name in broker.queue_names()
        ]

    @classmethod
    def from_queue_key(
        cls,
        queue_key: str,
        connection: Any = None,
        job_class: type[Job] | None = None,
        serializer: Any = None,
        death_penalty_class: Any = None,
    ) -> Queue:
        """The queue whose :attr:`key` is ``queue_key``."""
        broker = resolve_broker(connection)
        prefix = broker.queue_key("")
        if not queue_key.startswith(prefix) or len(queue_key) == len(prefix):
            raise ConfigurationError(f"{queue_key!r} is not a queue key (expected {prefix}<name>)")
        return cls(
            queue_key[len(prefix) :],
            connection=broker,
            job_class=job_class,
            serializer=serializer,
            death_penalty_class=death_penalty_class,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Queue):
            raise TypeError("Cannot compare queues to other objects")
        return self.name == other.name

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Queue):
            raise TypeError("Cannot compare queues to other objects")
        return self.name < other.name

    def __hash__(self) -> int:
        return hash(self.name)

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
    rate_limited_job_registry = QueueRegistry(RateLimitedJobRegistry, "Jobs waiting for their rate limit.")


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.queue", QueueRegistry, Queue)
