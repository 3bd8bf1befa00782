"""A worker's record in the broker: birth, heartbeats, state, statistics and death."""

from __future__ import annotations

import datetime
import enum
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from jq.base.utils import format_timestamp, now, parse_timestamp
from jq.broker import WORKER_STATE, Broker, Record, WorkerState
from jq.exceptions import DuplicateWorkerError, StoreDataError

__all__ = [
    "RegisteredWorker",
    "Registration",
    "WorkerStatus",
    "WorkerView",
    "apply_record",
    "dead_worker",
    "recorded_running",
    "registration_of",
]

logger = logging.getLogger("jq.worker")

# Seconds a name being taken from a dead worker's record stays locked at most.
_TAKE_OVER_LOCK_TTL = 10.0
# /proc gives a process's start in clock ticks and the boot time in whole seconds.
_START_TIME_SLACK = 2.0


class WorkerStatus(str, enum.Enum):
    """What a worker is doing. Compares equal to its string; the values of
    :class:`jq.broker.WorkerState`, as its record holds them."""

    STARTED = WorkerState.STARTED.value
    SUSPENDED = WorkerState.SUSPENDED.value
    BUSY = WorkerState.BUSY.value
    IDLE = WorkerState.IDLE.value

    def __str__(self) -> str:
        return self.value


def _text(value: object) -> bytes:
    return str(value).encode()


class Registration:
    """Writes one worker's record: every call is one atomic broker call.

    What it needs of its worker: the ``broker``, its ``name``, ``ttl()`` (its ``worker_ttl``,
    read at each write), ``describe()`` (the fields the record is born with that say where the
    worker runs: ``pid``, ``ip_address``, ``version``, ``python_version``), ``queue_names()``, and
    ``note(**values)``, the worker's method that sets on it what its record says now
    (``birth_date``, ``last_heartbeat``, ``hostname``, ``state``, ``current_job_id``).
    """

    def __init__(
        self,
        broker: Broker,
        name: str,
        *,
        ttl: Callable[[], int],
        describe: Callable[[], Mapping[str, object]],
        queue_names: Callable[[], list[str]],
        note: Callable[..., None],
    ) -> None:
        self.broker, self.name = broker, name
        self.ttl, self.describe, self.queue_names, self.note = ttl, describe, queue_names, note
        # The heartbeat thread and the loop both renew the record: one at a time, or both could
        # find it expired and register it again, the second one failing as a duplicate of itself.
        self._lock = threading.Lock()

    def register_birth(self) -> None:
        """Create the record; raises :class:`DuplicateWorkerError` if the name is taken."""
        born, hostname = now(), socket.gethostname()
        self.note(birth_date=born, last_heartbeat=born, hostname=hostname, state=WorkerStatus.STARTED)
        queue_names = self.queue_names()
        fields = {
            "name": _text(self.name),
            "hostname": _text(hostname),
            **{name: _text(value) for name, value in self.describe().items()},
            "queues": _text(",".join(queue_names)),
            WORKER_STATE: _text(WorkerStatus.STARTED.value),
            "birth_date": _text(format_timestamp(born)),
            "last_heartbeat": _text(format_timestamp(born)),
            "successful_job_count": b"0",
            "failed_job_count": b"0",
            "total_working_time": b"0",
        }
        if self.broker.register_worker(self.name, fields, queue_names, self.ttl()):
            return
        if not self._replace_stale(fields, queue_names):
            raise DuplicateWorkerError(
                f"a live worker named {self.name!r} is already registered: give this worker another "
                "name, or wait until the other one stops"
            )

    def _replace_stale(self, fields: Mapping[str, bytes], queue_names: list[str]) -> bool:
        """Take the name from a record left by a dead worker of this host (killed before it could
        unregister, its record not expired yet); False when the record may be a live worker's.

        Under a lock, and only if the record is still the one found dead: two workers restarting
        under one name never both take it."""
        found = self.broker.load_workers([self.name])[0]
        if found is None:
            # It expired (or was unregistered) since the first try.
            return self.broker.register_worker(self.name, fields, queue_names, self.ttl())
        why = dead_worker(found)
        if why is None:
            return False
        lock, token = f"worker-name:{self.name}", uuid.uuid4().hex
        if not self.broker.acquire_lock(lock, token, _TAKE_OVER_LOCK_TTL):
            return False  # another worker is taking the name now
        try:
            now_found = self.broker.load_workers([self.name])[0]
            if now_found is not None and _identity(now_found) != _identity(found):
                return False  # someone else registered meanwhile
            self.broker.unregister_worker(self.name)
            taken = self.broker.register_worker(self.name, fields, queue_names, self.ttl())
        finally:
            self.broker.release_lock(lock, token)
        if taken:
            logger.warning(
                "worker %s: took over the record of an earlier worker of that name: %s", self.name, why
            )
        return taken

    def heartbeat(
        self,
        state: WorkerStatus | None = None,
        current_job: str | None = None,
        increments: Mapping[str, float] | None = None,
        fields: Mapping[str, bytes] | None = None,
    ) -> bool:
        """Renew the record for another ``worker_ttl``; optionally change state, counters and
        other ``fields``.

        ``current_job=""`` clears the current job. Returns False when the record had expired.
        """
        with self._lock:
            return self._heartbeat(state, current_job, increments, fields or {})

    def _heartbeat(
        self,
        state: WorkerStatus | None,
        current_job: str | None,
        increments: Mapping[str, float] | None,
        extra: Mapping[str, bytes],
    ) -> bool:
        moment = now()
        noted: dict[str, Any] = {"last_heartbeat": moment}
        fields = {"last_heartbeat": _text(format_timestamp(moment)), **extra}
        if state is not None:
            noted["state"] = state
            fields[WORKER_STATE] = _text(state.value)
        if current_job is not None:
            noted["current_job_id"] = current_job or None
            fields["current_job"] = _text(current_job)
        self.note(**noted)
        alive = self.broker.heartbeat_worker(self.name, fields, self.ttl(), increments)
        if not alive:
            # The record expired (e.g. the store was unreachable longer than worker_ttl): re-register.
            self.register_birth()
            if state is not None or current_job is not None or increments or extra:
                self.broker.heartbeat_worker(self.name, fields, self.ttl(), increments)
        return alive

    def register_death(self) -> None:
        """Delete the record."""
        self.broker.unregister_worker(self.name)


def _identity(record: Record) -> tuple[bytes | None, ...]:
    """What tells one worker's record from another's of the same name."""
    return record.get("hostname"), record.get("pid"), record.get("birth_date")


def dead_worker(record: Record) -> str | None:
    """Why the worker of ``record`` cannot be alive (it ran on this host, and its process is
    gone, or is this very process, or started after the worker registered: its pid was
    reused), or None when it may be alive (or ran on another host: its record then expires
    ``worker_ttl`` seconds after its last heartbeat)."""
    if record.get("hostname", b"").decode("utf-8", errors="replace") != socket.gethostname():
        return None
    try:
        pid = int(record.get("pid", b""))
    except ValueError:
        return None
    if pid <= 0:
        return None
    if pid != os.getpid():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return f"its process {pid} is gone"
        except PermissionError:
            pass  # alive, another user's
    # The pid is alive (this process's, for a worker in this process or after a restart that
    # reused the pid, as in a container): the process is the worker only if it started before.
    started = process_start_time(pid)
    born = record.get("birth_date")
    if started is None or not born:
        return None
    try:
        birth = parse_timestamp(born.decode("utf-8", errors="replace")).timestamp()
    except ValueError:
        return None
    if started > birth + _START_TIME_SLACK:
        return f"its pid {pid} belongs to a process started after that worker registered"
    return None


def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (a ``time.time()`` value), from ``/proc`` (Linux); None where
    that cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            ticks = int(handle.read().rsplit(b")", 1)[1].split()[19])
        with open("/proc/stat", "rb") as handle:
            boot = next(int(line.split()[1]) for line in handle if line.startswith(b"btime "))
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


class RegisteredWorker(Protocol):
    """What :func:`registration_of` reads of a worker (each time its record is written): its
    ``broker``, ``name``, ``worker_ttl``, ``queue_names()`` and where it runs (``pid``,
    ``ip_address``, ``version``, ``python_version``). What the record says now is set on it by
    name (``birth_date``, ``last_heartbeat``, ``hostname``, ``state``, ``current_job_id``)."""

    broker: Broker
    name: str
    worker_ttl: int
    pid: int
    ip_address: str | None
    version: str
    python_version: str

    def queue_names(self) -> list[str]: ...


def registration_of(worker: RegisteredWorker) -> Registration:
    """The Registration of ``worker`` (a :class:`~jq.worker.BaseWorker`, or an object with its
    members): what it reads of the worker, and how it sets what the record says on it."""

    def note(**values: Any) -> None:
        for name, value in values.items():
            setattr(worker, name, value)

    return Registration(
        worker.broker,
        worker.name,
        ttl=lambda: worker.worker_ttl,
        describe=lambda: {
            "pid": worker.pid,
            "ip_address": worker.ip_address,
            "version": worker.version,
            "python_version": worker.python_version,
        },
        queue_names=worker.queue_names,
        note=note,
    )


class WorkerView(Protocol):
    """What :func:`apply_record` sets on a worker (a view ``Worker.all()`` returns, or a worker
    refreshed): the fields of its record."""

    name: str
    hostname: str | None
    pid: int
    ip_address: str | None
    version: str
    python_version: str
    state: WorkerStatus
    current_job_id: str | None
    birth_date: datetime.datetime | None
    last_heartbeat: datetime.datetime | None
    successful_job_count: int
    failed_job_count: int
    total_working_time: float
    shutdown_requested_at: datetime.datetime | None
    _recorded_running: tuple[str, ...]


#: The field of a concurrent worker's record listing the jobs it runs (ids, comma-separated).
RUNNING_JOBS_FIELD = "running_jobs"


def recorded_running(record: Record) -> tuple[str, ...]:
    """The ids a worker record's ``running_jobs`` field lists (a concurrent worker's)."""
    text = record.get(RUNNING_JOBS_FIELD, b"").decode("utf-8", errors="replace")
    return tuple(part for part in text.split(",") if part)


def apply_record(worker: WorkerView, record: Record) -> None:
    """Set a worker view's attributes from its record; :class:`StoreDataError` when a field cannot
    be read (a manual edit, another program's write)."""
    try:
        _apply_record(worker, record)
    except (ValueError, TypeError) as exc:
        raise StoreDataError(f"the record of worker {worker.name!r} is corrupt: {exc}") from None


def _apply_record(worker: WorkerView, record: Record) -> None:
    def text(name: str) -> str:
        return record.get(name, b"").decode("utf-8", errors="replace")

    worker.hostname = text("hostname") or None
    worker.pid = int(text("pid") or 0)
    worker.ip_address = text("ip_address") or None
    worker.version = text("version") or worker.version
    worker.python_version = text("python_version") or worker.python_version
    worker.state = WorkerStatus(text(WORKER_STATE) or WorkerStatus.IDLE.value)
    worker.current_job_id = text("current_job") or None
    worker._recorded_running = recorded_running(record)
    worker.birth_date = parse_timestamp(text("birth_date")) if text("birth_date") else None
    worker.last_heartbeat = parse_timestamp(text("last_heartbeat")) if text("last_heartbeat") else None
    worker.successful_job_count = int(float(text("successful_job_count") or 0))
    worker.failed_job_count = int(float(text("failed_job_count") or 0))
    worker.total_working_time = float(text("total_working_time") or 0)
    worker.shutdown_requested_at = (
        parse_timestamp(text("shutdown_requested_date")) if text("shutdown_requested_date") else None
    )
