"""A worker's record in the broker: birth, heartbeats, state, statistics and death."""

from __future__ import annotations

import enum
import socket
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from jq.base.utils import format_timestamp, now, parse_timestamp
from jq.broker import Record
from jq.exceptions import DuplicateWorkerError

if TYPE_CHECKING:
    from jq.worker.base import BaseWorker

__all__ = ["Registration", "WorkerStatus", "apply_record"]


class WorkerStatus(str, enum.Enum):
    """What a worker is doing. Compares equal to its string."""

    STARTED = "started"
    SUSPENDED = "suspended"
    BUSY = "busy"
    IDLE = "idle"

    def __str__(self) -> str:
        return self.value


def _text(value: object) -> bytes:
    return str(value).encode()


class Registration:
    """Writes one worker's record: every call is one atomic broker call."""

    def __init__(self, worker: BaseWorker) -> None:
        self.worker = worker
        # The heartbeat thread and the loop both renew the record: one at a time, or both could
        # find it expired and register it again, the second one failing as a duplicate of itself.
        self._lock = threading.Lock()

    def register_birth(self) -> None:
        """Create the record; raises :class:`DuplicateWorkerError` if the name is taken."""
        worker = self.worker
        worker.birth_date = worker.last_heartbeat = now()
        worker.hostname = socket.gethostname()
        worker.state = WorkerStatus.STARTED
        fields = {
            "name": _text(worker.name),
            "hostname": _text(worker.hostname),
            "pid": _text(worker.pid),
            "ip_address": _text(worker.ip_address),
            "version": _text(worker.version),
            "python_version": _text(worker.python_version),
            "queues": _text(",".join(worker.queue_names())),
            "state": _text(worker.state.value),
            "birth_date": _text(format_timestamp(worker.birth_date)),
            "last_heartbeat": _text(format_timestamp(worker.last_heartbeat)),
            "successful_job_count": b"0",
            "failed_job_count": b"0",
            "total_working_time": b"0",
        }
        if not worker.broker.register_worker(worker.name, fields, worker.queue_names(), worker.worker_ttl):
            raise DuplicateWorkerError(
                f"a live worker named {worker.name!r} is already registered: give this worker another "
                "name, or wait until the other one stops"
            )

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
        worker = self.worker
        worker.last_heartbeat = now()
        fields = {"last_heartbeat": _text(format_timestamp(worker.last_heartbeat)), **extra}
        if state is not None:
            worker.state = state
            fields["state"] = _text(state.value)
        if current_job is not None:
            worker.current_job_id = current_job or None
            fields["current_job"] = _text(current_job)
        alive = worker.broker.heartbeat_worker(worker.name, fields, worker.worker_ttl, increments)
        if not alive:
            # The record expired (e.g. the store was unreachable longer than worker_ttl): re-register.
            self.register_birth()
            if state is not None or current_job is not None or increments or extra:
                worker.broker.heartbeat_worker(worker.name, fields, worker.worker_ttl, increments)
        return alive

    def register_death(self) -> None:
        """Delete the record."""
        self.worker.broker.unregister_worker(self.worker.name)


def apply_record(worker: BaseWorker, record: Record) -> None:
    """Set a worker view's attributes from its record."""

    def text(name: str) -> str:
        return record.get(name, b"").decode("utf-8", errors="replace")

    worker.hostname = text("hostname") or None
    worker.pid = int(text("pid") or 0)
    worker.ip_address = text("ip_address") or None
    worker.version = text("version") or worker.version
    worker.python_version = text("python_version") or worker.python_version
    worker.state = WorkerStatus(text("state") or WorkerStatus.IDLE.value)
    worker.current_job_id = text("current_job") or None
    worker.birth_date = parse_timestamp(text("birth_date")) if text("birth_date") else None
    worker.last_heartbeat = parse_timestamp(text("last_heartbeat")) if text("last_heartbeat") else None
    worker.successful_job_count = int(float(text("successful_job_count") or 0))
    worker.failed_job_count = int(float(text("failed_job_count") or 0))
    worker.total_working_time = float(text("total_working_time") or 0)
    worker.shutdown_requested_at = (
        parse_timestamp(text("shutdown_requested_date")) if text("shutdown_requested_date") else None
    )
