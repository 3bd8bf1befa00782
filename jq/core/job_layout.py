"""Key names a job (or queue) answers under RQ's names, and the classes of a job's queue and
registries.

RQ code sometimes builds Redis key names itself (``Job.key_for(id)``,
``Queue.redis_queue_namespace_prefix + name``). jq answers those names with its own keys (``jq:job:<id>``),
always through a broker's key methods, so that they follow the broker's prefix. Read on an object,
they come from the object's broker; read on the class, from :func:`layout_broker`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from jq.broker import Broker
from jq.exceptions import NoConnectionError
from jq.io.connections import resolve_broker
from jq.io.serializers import Serializer

if TYPE_CHECKING:
    from jq.core.job import Job
    from jq.queueing.executions import Execution, ExecutionRegistry
    from jq.queueing.queue import Queue
    from jq.queueing.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry

__all__ = ["JobPlaces", "LayoutKey", "layout_broker", "queueing_class"]


def layout_broker() -> Broker:
    """The broker whose key names a class-level member reports: the current connection (a
    ``with Connection(...)`` block, or ``JQ_URL``), else an in-memory broker, which names its keys
    as every jq driver does (under ``JQ_KEY_PREFIX``, else ``jq:``)."""
    try:
        return resolve_broker(None)
    except NoConnectionError:
        return resolve_broker("memory://")


class LayoutKey:
    """A class attribute holding a key name built by ``build(broker)``: with the broker of the
    object it is read on, or :func:`layout_broker` when read on the class."""

    def __init__(self, build: Callable[[Broker], str], doc: str) -> None:
        self.build = build
        self.__doc__ = doc

    def __get__(self, obj: Any, owner: type | None = None) -> str:
        broker = getattr(obj, "broker", None) if obj is not None else None
        return self.build(broker if isinstance(broker, Broker) else layout_broker())


def queueing_class(job_class: type, name: str) -> Any:
    """The class of the queueing layer a job class was given under ``name`` (``queue_class``,
    ``execution_registry_class``): :mod:`jq.queueing` plugs them in when it is imported."""
    found = getattr(job_class, name, None)
    if found is None:
        raise RuntimeError(
            f"{job_class.__name__}.{name} is not set: import jq.job (or anything of jq.queueing), which "
            "gives jobs their queue, registries and executions, before asking a job for them"
        )
    return found


class JobPlaces:
    """RQ's key names, queue and registries of a job, a mixin of :class:`jq.job.Job`.

    Read on a job, key names come from its broker; read on the class, from :func:`layout_broker`.
    The queue and registries are objects of :mod:`jq.queueing`, which plugs their classes in
    (``queue_class``, ``execution_registry_class``) when it is imported: the core does not import
    the layer above it.
    """

    # Set by Job.__init__ (see jq.core.job).
    _id: str
    broker: Broker
    serializer: Serializer
    origin: str

    @property
    def key(self) -> str:
        """The key under which the job's record is stored."""
        return self.broker.job_key(self._id)

    @property
    def dependents_key(self) -> str:
        """The key of the ids of the jobs waiting for this one."""
        return self.broker.dependents_key(self._id)

    @property
    def dependencies_key(self) -> str:
        """The key of the ids of this job's unmet dependencies."""
        return self.broker.dependencies_key(self._id)

    @classmethod
    def key_for(cls, job_id: str) -> str:
        """The key of the record of job ``job_id`` (see :func:`layout_broker`)."""
        return layout_broker().job_key(job_id)

    @classmethod
    def dependents_key_for(cls, job_id: str) -> str:
        """The key of the ids of the jobs waiting for job ``job_id`` (see :func:`layout_broker`)."""
        return layout_broker().dependents_key(job_id)

    @property
    def queue(self) -> Queue:
        """The job's queue."""
        queue_class: type[Queue] = queueing_class(type(self), "queue_class")
        return queue_class(
            self.origin,
            connection=self.broker,
            serializer=self.serializer,
            job_class=cast("type[Job]", type(self)),
        )

    @property
    def started_job_registry(self) -> StartedJobRegistry:
        """The started registry of the job's queue."""
        return self.queue.started_job_registry

    @property
    def finished_job_registry(self) -> FinishedJobRegistry:
        """The finished registry of the job's queue."""
        return self.queue.finished_job_registry

    @property
    def failed_job_registry(self) -> FailedJobRegistry:
        """The failed registry of the job's queue."""
        return self.queue.failed_job_registry

    @property
    def execution_registry(self) -> ExecutionRegistry:
        """The job's executions (RQ's per-job registry): its running one, read from its record."""
        registry_class: type[ExecutionRegistry] = queueing_class(type(self), "execution_registry_class")
        return registry_class(self._id, connection=self.broker)

    def get_executions(self) -> list[Execution]:
        """The job's current executions: the one running it while its status is ``started``
        (a jq job has at most one), else none."""
        return self.execution_registry.get_executions()
