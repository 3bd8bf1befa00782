"""Executions: each run of a job by a worker (RQ's ``rq.executions``).

jq gives every claim of a job an execution id and keeps it on the job's record (its
``execution`` field, ``job.execution_id``), with the run's start (``started_at``), its last
heartbeat (``last_heartbeat``) and its worker (``worker_name``); the job's lease in the started
registry is the execution's, and an outcome written by an execution that is no longer the job's
current one is refused. So a job has at most one live execution, the one its record names while
its status is ``started``. :class:`Execution` and :class:`ExecutionRegistry` read that.

What RQ's workers do with these classes themselves (create, save, delete an execution) is done
in jq by the claim and the outcome, each one atomic step: those methods are refused here.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jq.base.utils import now, parse_composite_key, parse_timestamp, public_module
from jq.broker import EXECUTION, STATUS, Broker, Place, PlaceKind, Status
from jq.core.job import Job
from jq.exceptions import UnsupportedByBrokerError
from jq.io.connections import resolve_broker
from jq.queueing.queue import Queue
from jq.queueing.registry import BaseRegistry, StartedJobRegistry

if TYPE_CHECKING:
    from jq.core.job import Job

__all__ = [
    "Execution",
    "ExecutionRegistry",
    "cleanup_execution",
    "prepare_execution",
]

logger = logging.getLogger("jq.worker")

# WORKER_EXECUTIONS_KEY_TEMPLATE: the key of the record of worker ``{0}``, which names the job
# it runs (``current_job``), in jq's Redis layout; built on first use by __getattr__ below. RQ
# keeps a set of executions there (``rq:worker:{0}:executions``).

_FIELDS = (EXECUTION, STATUS, "started_at", "last_heartbeat", "worker_name")
# The status of a running job, as its record holds it.
_STARTED = Status.STARTED.stored


def _refused(what: str) -> UnsupportedByBrokerError:
    return UnsupportedByBrokerError(
        f"{what}: jq records an execution on its job's record when a worker claims the job and "
        "ends it with the job's outcome, each in one atomic step"
    )


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class Execution:
    """One run of job ``job_id`` by worker ``worker_name``: ``id`` is its execution id,
    ``created_at`` when it started, ``last_heartbeat`` when its worker last renewed its lease,
    :attr:`job` the job itself. Equal to another execution with the same id.

    This is the one execution class: what ``job.get_executions()``, ``worker.execution`` and
    ``worker.get_current_executions()`` return (``jq.worker.executions.Execution`` is this class).
    """

    def __init__(
        self,
        id: str,
        job_id: str,
        connection: Any,
        worker_name: str = "",
        created_at: datetime.datetime | None = None,
        last_heartbeat: datetime.datetime | None = None,
        job: Job | None = None,
    ) -> None:
        self.id = id
        self.job_id = job_id
        self.connection = connection
        self.worker_name = worker_name
        self.created_at: datetime.datetime = created_at or now()
        self.last_heartbeat: datetime.datetime = last_heartbeat or self.created_at
        self._job: Job | None = job

    @classmethod
    def of(cls, job: Job, worker_name: str = "") -> Execution:
        """The execution a claimed ``job`` carries (its ``execution_id``, ``started_at`` and
        ``last_heartbeat``), without reading the store."""
        return cls(
            job.execution_id or "",
            job.id,
            job.broker,
            worker_name=worker_name or job.worker_name or "",
            created_at=job.started_at,
            last_heartbeat=job.last_heartbeat or job.started_at,
            job=job,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Execution) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"Execution(id={self.id!r}, job_id={self.job_id!r}, worker_name={self.worker_name!r})"

    @property
    def _broker(self) -> Broker:
        return resolve_broker(self.connection)

    @property
    def key(self) -> str:
        """The key of the record that holds this execution: its job's."""
        return self._broker.job_key(self.job_id)

    @property
    def job(self) -> Job:
        """The job this execution runs."""
        if self._job is None:
            self._job = Job.fetch(self.job_id, connection=self.connection)
        return self._job

    @property
    def composite_key(self) -> str:
        """``<job id>:<execution id>``."""
        return f"{self.job_id}:{self.id}"

    @property
    def worker_executions_key(self) -> str:
        """The key of the record of the worker running this execution."""
        return self._broker.worker_key(self.worker_name)

    @classmethod
    def fetch(cls, id: str, job_id: str, connection: Any) -> Execution:
        """The execution ``id`` of job ``job_id`` while it runs; ValueError when it does not
        (the job ended, runs another execution, or does not exist)."""
        execution = cls(id=id, job_id=job_id, connection=connection)
        execution.refresh()
        return execution

    def refresh(self) -> None:
        """Read the execution again from its job's record; ValueError when it no longer runs."""
        fields = self._broker.load_job_fields(self.job_id, list(_FIELDS))
        if fields is None or fields[0] is None or _text(fields[0]) != self.id or fields[1] != _STARTED:
            raise ValueError(f"execution {self.id} of job {self.job_id} is not running (not found)")
        self.restore({name: value for name, value in zip(_FIELDS, fields, strict=True) if value is not None})

    def restore(self, data: Mapping[Any, Any]) -> None:
        """Set the attributes from a mapping of field names to values, as :meth:`serialize`
        gives or as a job's record holds them (``started_at`` for ``created_at``); text or bytes
        keys, timestamps as seconds or as jq's UTC text."""
        values = {_text(name): value for name, value in data.items()}
        self.job_id = _text(values.get("job_id", self.job_id)) or self.job_id
        started = values.get("created_at", values.get("started_at"))
        if started is not None:
            self.created_at = _moment(started)
        heartbeat = values.get("last_heartbeat")
        self.last_heartbeat = _moment(heartbeat) if heartbeat is not None else self.created_at
        self.worker_name = _text(values.get("worker_name", self.worker_name))

    def serialize(self) -> dict[str, Any]:
        """The execution as a mapping :meth:`restore` reads back."""
        return {
            "id": self.id,
            "job_id": self.job_id,
            "created_at": self.created_at.timestamp(),
            "last_heartbeat": self.last_heartbeat.timestamp(),
            "worker_name": self.worker_name,
        }

    @classmethod
    def from_composite_key(cls, composite_key: str, connection: Any) -> Execution:
        """The execution named by ``<job id>:<execution id>`` (not read from the store)."""
        job_id, execution_id = parse_composite_key(composite_key)
        return cls(id=execution_id, job_id=job_id, connection=connection)

    @classmethod
    def create(cls, job: Job, ttl: int, pipeline: Any, worker_name: str = "") -> Execution:
        """Refused: a worker's claim creates the execution."""
        raise _refused("Execution.create()")

    def save(self, ttl: int, pipeline: Any = None) -> None:
        """Refused: the claim writes the execution."""
        raise _refused("Execution.save()")

    def delete(self, job: Job, pipeline: Any) -> None:
        """Refused: the job's outcome ends the execution."""
        raise _refused("Execution.delete()")

    def heartbeat(self, started_job_registry: StartedJobRegistry, ttl: int, pipeline: Any = None) -> None:
        """Renew the execution's lease for ``ttl`` seconds (while it is the job's current one)."""
        if pipeline is not None:
            raise UnsupportedByBrokerError(
                "renewing a lease checks the execution and moves its deadline in one atomic step: "
                "call without pipeline="
            )
        self.last_heartbeat = now()
        self._broker.extend_lease(started_job_registry.name, self.job_id, self.id, self._broker.now() + ttl)


def _moment(value: Any) -> datetime.datetime:
    """A UTC datetime from seconds since the epoch or jq's timestamp text."""
    if isinstance(value, datetime.datetime):
        return value
    text = _text(value)
    try:
        return datetime.datetime.fromtimestamp(float(text), tz=datetime.timezone.utc)
    except ValueError:
        return parse_timestamp(text)


class ExecutionRegistry(BaseRegistry):
    """The executions of one job: its current one while it runs, else none."""

    kind = None

    def __init__(self, job_id: str, connection: Any) -> None:
        self.job_id = job_id
        self.broker = resolve_broker(connection)
        self.name = job_id

    @property
    def key(self) -> str:
        """The key of the record that holds the job's execution: the job's."""
        return self.broker.job_key(self.job_id)

    def _current(self) -> Execution | None:
        fields = self.broker.load_job_fields(self.job_id, list(_FIELDS))
        if fields is None or fields[0] is None or fields[1] != _STARTED:
            return None
        execution = Execution(_text(fields[0]), self.job_id, self.broker)
        execution.restore(
            {name: value for name, value in zip(_FIELDS, fields, strict=True) if value is not None}
        )
        return execution

    def __contains__(self, item: object) -> bool:
        current = self._current()
        wanted = item.id if isinstance(item, Execution) else item
        return current is not None and current.id == wanted

    def get_job_count(self, cleanup: bool = True) -> int:
        """1 while the job runs, else 0."""
        return 0 if self._current() is None else 1

    def get_execution_ids(self, start: int = 0, end: int = -1) -> list[str]:
        """The id of the job's running execution (none when it does not run)."""
        return [execution.id for execution in self.get_executions(start, end)]

    def get_executions(self, start: int = 0, end: int = -1) -> list[Execution]:
        """The job's running execution (none when it does not run)."""
        current = self._current()
        return [current][start : None if end == -1 else end + 1] if current is not None else []

    def get_job_ids(
        self, start: int = 0, end: int = -1, desc: bool = False, cleanup: bool = True
    ) -> list[str]:
        """The execution ids, as :meth:`get_execution_ids` (an execution registry holds those)."""
        return self.get_execution_ids(start, end)

    def get_expired_job_ids(self, timestamp: float | None = None) -> list[str]:
        """The running execution when its lease passed ``timestamp`` (now when None)."""
        current = self._current()
        if current is None:
            return []
        origin = self.broker.load_job_fields(self.job_id, ["origin"])
        queue = _text(origin[0]) if origin and origin[0] else ""
        score = self.broker.registry_score(Place(PlaceKind.STARTED, queue), self.job_id) if queue else None
        deadline = self.broker.now() if timestamp is None else timestamp
        return [current.id] if score is not None and score <= deadline else []

    def cleanup(
        self, timestamp: float | None = None, exception_handlers: list[Any] | None = None
    ) -> list[str]:
        """Nothing to clean: an execution ends with its job's outcome."""
        return []

    def add(self, execution: Any, ttl: int = 0, pipeline: Any = None, xx: bool = False) -> Any:
        """Refused: a worker's claim records the execution."""
        raise _refused("ExecutionRegistry.add()")

    def remove(self, execution: Any, pipeline: Any = None, delete_job: bool = False) -> Any:
        """Refused: the job's outcome ends the execution."""
        raise _refused("ExecutionRegistry.remove()")

    def delete(self, job: Job, pipeline: Any) -> None:
        """Refused: the job's outcome ends the execution."""
        raise _refused("ExecutionRegistry.delete()")

    def get_queue(self) -> Any:
        """The queue of the job."""
        origin = self.broker.load_job_fields(self.job_id, ["origin"])
        name = _text(origin[0]) if origin and origin[0] else "default"
        return Queue(name, connection=self.broker)

    def requeue(self, job_or_id: Job | str, at_front: bool = False) -> Job:
        """Refused: executions are not requeued (requeue the job)."""
        raise _refused("ExecutionRegistry.requeue()")

    def __repr__(self) -> str:
        return f"ExecutionRegistry({self.job_id!r})"


def prepare_execution(worker: Any, job: Job) -> Execution:
    """Refused: a jq worker's claim creates the execution."""
    raise _refused("prepare_execution()")


def cleanup_execution(worker: Any, job: Job, pipeline: Any, execution: Execution | None = None) -> None:
    """Forget ``execution`` in ``worker.executions`` (when the worker keeps that mapping); the job's
    outcome, written by the worker, has ended it in the store already."""
    executions = getattr(worker, "executions", None)
    if execution is not None and isinstance(executions, dict):
        executions.pop(execution.id, None)
    logger.debug("execution of job %s cleaned up", job.id)


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.executions", Execution, ExecutionRegistry)
