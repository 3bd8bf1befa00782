"""Key names a job (or queue) answers under RQ's names, and the registries of a job's queue.

RQ code sometimes builds Redis key names itself (``Job.key_for(id)``,
``Queue.redis_queue_namespace_prefix + name``). jq answers those names with its own keys (``jq:job:<id>``),
always through a broker's key methods, so that they follow the broker's prefix. Read on an object,
they come from the object's broker; read on the class, from :func:`layout_broker`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jq.broker import Broker
from jq.exceptions import NoConnectionError
from jq.io.connections import resolve_broker

if TYPE_CHECKING:
    from jq.io.serializers import Serializer
    from jq.queueing.executions import Execution, ExecutionRegistry
    from jq.queueing.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry

__all__ = ["JobLayout", "LayoutKey", "layout_broker"]


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


class JobLayout:
    """The key names and registries of a :class:`jq.job.Job`, under RQ's names."""

    _id: str
    origin: str
    broker: Broker
    serializer: Serializer

    #: The start of every job record's key (``jq:job:``).
    redis_job_namespace_prefix = LayoutKey(lambda broker: broker.job_key(""), "The start of job keys.")

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

    def _registry_options(self) -> dict[str, Any]:
        return {"connection": self.broker, "job_class": type(self), "serializer": self.serializer}

    @property
    def started_job_registry(self) -> StartedJobRegistry:
        """The started registry of the job's queue."""
        from jq.queueing.registry import StartedJobRegistry

        return StartedJobRegistry(self.origin, **self._registry_options())

    @property
    def finished_job_registry(self) -> FinishedJobRegistry:
        """The finished registry of the job's queue."""
        from jq.queueing.registry import FinishedJobRegistry

        return FinishedJobRegistry(self.origin, **self._registry_options())

    @property
    def failed_job_registry(self) -> FailedJobRegistry:
        """The failed registry of the job's queue."""
        from jq.queueing.registry import FailedJobRegistry

        return FailedJobRegistry(self.origin, **self._registry_options())

    @property
    def execution_registry(self) -> ExecutionRegistry:
        """The job's executions (RQ's per-job registry): its running one, read from its record."""
        from jq.queueing.executions import ExecutionRegistry

        return ExecutionRegistry(self._id, connection=self.broker)

    def get_executions(self) -> list[Execution]:
        """The job's current executions: the one running it while its status is ``started``
        (a jq job has at most one), else none."""
        return self.execution_registry.get_executions()
