"""What a worker says about itself: identity, equality, its record's fields and what it runs.

These members read the worker's own attributes or its record in the store, so they work on the
worker that runs jobs and on the views ``Worker.all()`` / ``Worker.find_by_key()`` return (a
dashboard's). Names and meanings are RQ 3.0's (``get_current_job()``, ``death_date``,
``version``...).
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

from jq.base.utils import format_timestamp, parse_timestamp
from jq.io.connections import key_prefix
from jq.version import __version__
from jq.worker.executions import Execution
from jq.worker.registration import WorkerStatus, recorded_running

if TYPE_CHECKING:
    import datetime

    from jq.broker import Broker
    from jq.core.job import Job
    from jq.queueing.queue import Queue

__all__ = ["WorkerInfo", "client_address"]

logger = logging.getLogger("jq.worker")


def client_address(connection: Any) -> str:
    """The address the store sees this process's connection come from (``127.0.0.1:53412``), as
    RQ records it; ``"unknown"`` when the store cannot say (the memory broker, a Redis older than
    6.2, an ACL user without ``CLIENT``)."""
    client_info = getattr(connection, "client_info", None)
    if client_info is None:
        return "unknown"
    try:
        return str(client_info()["addr"])
    except Exception:
        # Asking is a courtesy for monitoring: never a reason for a worker not to start.
        return "unknown"


class WorkerInfo:
    """Identity and introspection members of a worker (mixed into
    :class:`jq.worker.BaseWorker`)."""

    name: str
    broker: Broker
    queues: list[Queue]
    job_class: type[Job]
    serializer: Any
    current_job_id: str | None
    running_job: Job | None
    worker_ttl: int

    #: The jq version of the process that runs the worker (read from its record on a view).
    version: str = __version__
    #: The Python version of that process (``sys.version``).
    python_version: str = sys.version
    #: The address the store sees the worker's connection come from, or ``"unknown"``.
    ip_address: str | None = "unknown"
    #: When a warm shutdown was asked (from the record on a view), or None.
    shutdown_requested_at: datetime.datetime | None = None
    #: The Redis server's version once :meth:`get_redis_server_version` asked, else None.
    redis_server_version: tuple[int, ...] | None = None
    #: Whether the log says what each job is (its description) or only its id.
    log_job_description = True
    # What the worker does (see state); STARTED until it says otherwise.
    _state: WorkerStatus = WorkerStatus.STARTED
    # When this process registered the worker's death (its record is deleted then).
    _death_date: datetime.datetime | None = None
    # The executions get_current_executions() read last, for views (refresh=True reads again).
    _executions: list[Execution] | None = None
    # The jobs a concurrent worker runs now, oldest first (set by its main thread).
    _running: tuple[Job, ...] = ()
    # A view's: the ids its record's running_jobs field lists (a concurrent worker's).
    _recorded_running: tuple[str, ...] = ()

    # -- identity ---------------------------------------------------------------------------------

    @property
    def key(self) -> str:
        """The key of this worker's record (``jq:worker:<name>``)."""
        return self.broker.worker_key(self.name)

    @property
    def connection(self) -> Any:
        """The client of the worker's broker."""
        return self.broker.connection

    @property
    def pubsub_channel_name(self) -> str:
        """The channel the worker receives its commands on (informational: the driver subscribes
        to it)."""
        return f"{key_prefix()}commands:{self.name}"

    def queue_names(self) -> list[str]:
        """The names of the queues, in listening order."""
        return [queue.name for queue in self.queues]

    def queue_keys(self) -> list[str]:
        """The keys of the queues, in listening order."""
        return [queue.key for queue in self.queues]

    @property
    def state(self) -> WorkerStatus:
        """What the worker is doing: ``started``, ``idle``, ``busy`` or ``suspended`` (as this
        object knows it; :meth:`set_state` also records it in the store)."""
        return self._state

    @state.setter
    def state(self, value: WorkerStatus | str) -> None:
        # A member as is (the worker sets one twice per job); a string through the enum.
        self._state = value if type(value) is WorkerStatus else WorkerStatus(value)

    def get_state(self) -> WorkerStatus:
        """What the worker is doing: ``started``, ``idle``, ``busy`` or ``suspended``."""
        return self._state

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, queues={self.queue_names()})"

    def __eq__(self, other: object) -> bool:
        """Workers are equal when their names are: the store and the process do not count, as in
        RQ. Comparing a worker with anything else raises TypeError, as RQ's does."""
        if not isinstance(other, WorkerInfo):
            raise TypeError(f"cannot compare a worker with {type(other).__name__}")
        return self.name == other.name

    def __hash__(self) -> int:
        return hash(self.name)

    # -- what it runs ------------------------------------------------------------------------------

    @property
    def current_job(self) -> Job | None:
        """The job this worker is running (the oldest, when it runs several), or None."""
        return self.get_current_job()

    @property
    def running_jobs(self) -> list[Job]:
        """The jobs this worker runs now, oldest first, as the process running them knows them
        (a view from ``Worker.all()``: none; see :meth:`get_running_job_ids`)."""
        if self._running:
            return list(self._running)
        return [self.running_job] if self.running_job is not None else []

    def get_running_job_ids(self) -> list[str]:
        """The ids of the jobs this worker runs now (one at most, unless it runs several at once:
        ``concurrency``). A view reads them from the worker's record, as its last claim, outcome
        or heartbeat wrote them."""
        running = self.running_jobs
        if running:
            return [job.id for job in running]
        ids = list(self._recorded_running)
        if self.current_job_id and self.current_job_id not in ids:
            ids.append(self.current_job_id)
        return ids

    def get_current_job_id(self) -> str | None:
        """The id of the job this worker is running (the oldest, when it runs several), or None
        when it is idle."""
        running = self.running_jobs
        if running:
            return running[0].id
        return self.current_job_id

    def get_current_job(self) -> Job | None:
        """The job this worker is running (read from the store), or None when it is idle."""
        running = self.running_jobs
        if running:
            return running[0]
        job_id = self.get_current_job_id()
        if job_id is None:
            return None
        return self.job_class.fetch_many([job_id], connection=self.broker, serializer=self.serializer)[0]

    @property
    def executions(self) -> dict[str, Execution]:
        """The executions this worker runs, by id: the running one, or none."""
        return {execution.id: execution for execution in self.get_current_executions()}

    @property
    def execution(self) -> Execution | None:
        """The execution this worker runs now, or None when it is idle."""
        executions = self.get_current_executions()
        return executions[0] if executions else None

    @property
    def current_execution_count(self) -> int:
        """How many executions the worker runs now (0 or 1, unless it runs several jobs at once)."""
        return len(self.get_current_executions(refresh=True))

    @property
    def executions_key(self) -> str:
        """Where RQ keeps a worker's executions; jq keeps the running one in the worker's record
        (``current_job``) and its lease in the started registry: the record's key."""
        return self.key

    def get_current_executions(self, refresh: bool = False) -> list[Execution]:
        """The executions the worker runs now: the running jobs', or none.

        The worker that runs the jobs answers from memory; a view (``Worker.all()``) reads the
        record and the jobs, once (``refresh=True`` reads them again).
        """
        running = [job for job in self.running_jobs if job.execution_id is not None]
        if running:
            return [Execution.of(job, self.name) for job in running]
        if self._executions is not None and not refresh:
            return self._executions
        if refresh:
            self._reload_current_job()
        found: list[Execution] = []
        ids = self.get_running_job_ids()
        loaded_jobs = self.job_class.fetch_many(ids, connection=self.broker, serializer=self.serializer)
        for loaded in loaded_jobs:
            if loaded is not None and loaded.execution_id and loaded.worker_name == self.name:
                found.append(Execution.of(loaded, self.name))
        self._executions = found
        return found

    def _reload_current_job(self) -> None:
        record = self.broker.load_workers([self.name])[0]
        if record is not None:
            self.current_job_id = record.get("current_job", b"").decode() or None
            self._recorded_running = recorded_running(record)

    # -- the record's other fields ------------------------------------------------------------------

    @property
    def death_date(self) -> datetime.datetime | None:
        """When the worker registered its death, or None while it lives. jq deletes a stopped
        worker's record at once, so only the worker object that stopped knows it."""
        return self._death_date

    @property
    def shutdown_requested_date(self) -> datetime.datetime | None:
        """When a warm shutdown was asked of the worker (read from its record), or None."""
        record = self.broker.load_workers([self.name])[0]
        if record is None:
            return self.shutdown_requested_at
        text = record.get("shutdown_requested_date", b"").decode()
        return parse_timestamp(text) if text else None

    @property
    def dequeue_timeout(self) -> int:
        """Seconds RQ's worker blocks on its queues per wait (``worker_ttl - 15``, at least 1)."""
        return max(1, self.worker_ttl - 15)

    @property
    def connection_timeout(self) -> int:
        """RQ's socket timeout for a worker's connection (:attr:`dequeue_timeout` + 10). jq's
        Redis driver sets its own (a blocking wait never outlasts the socket's timeout)."""
        return self.dequeue_timeout + 10

    def get_redis_server_version(self) -> tuple[int, ...] | None:
        """The Redis server's version (``(7, 2, 4)``), or None when the store is not Redis."""
        info = getattr(self.connection, "info", None)
        if info is None:
            return None
        if self.redis_server_version is None:
            try:
                version = str(info("server")["redis_version"])
            except Exception:
                return None
            self.redis_server_version = tuple(int(part) for part in version.split(".")[:3] if part.isdigit())
        return self.redis_server_version

    def serialize(self) -> dict[str, Any]:
        """The worker as RQ writes its record: ``birth``, ``last_heartbeat``, ``queues``, ``pid``,
        ``hostname``, ``ip_address``, ``version``, ``python_version``."""
        birth = getattr(self, "birth_date", None)
        beat = getattr(self, "last_heartbeat", None)
        return {
            "birth": format_timestamp(birth) if birth is not None else None,
            "last_heartbeat": format_timestamp(beat) if beat is not None else None,
            "queues": ",".join(self.queue_names()),
            "pid": getattr(self, "pid", None),
            "hostname": getattr(self, "hostname", None),
            "ip_address": self.ip_address,
            "version": self.version,
            "python_version": self.python_version,
        }

    def validate_queues(self) -> None:
        """Raise TypeError unless every queue is an instance of the worker's ``queue_class``."""
        queue_class: type[Queue] = getattr(self, "queue_class")  # noqa: B009 - set by BaseWorker
        for queue in self.queues:
            if not isinstance(queue, queue_class):
                raise TypeError(f"{queue!r} is not a {queue_class.__name__} (the worker's queue_class)")
