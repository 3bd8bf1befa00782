"""An overview of a store: each queue's counts per registry and latency, the live workers and
whether they are suspended, read in a handful of round trips whatever the number of queues
(``jqueue info`` and the dashboard show it).

Counts are what the store holds: a finished, failed or canceled entry past its expiry is counted
until a worker's maintenance drops it (reading an overview writes nothing).
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from jq.base.utils import now, parse_timestamp
from jq.broker import Broker, Place, PlaceKind, Status
from jq.queueing.listing import LISTED_STATUSES
from jq.queueing.queue import Queue
from jq.worker import BaseWorker

__all__ = ["COUNTS", "QueueRow", "Snapshot", "WorkerRow", "place_of", "queue_counts", "take_snapshot"]

#: The counts shown for each queue, in column order.
COUNTS = LISTED_STATUSES

#: The place that holds the jobs of each listed status.
_PLACE_KINDS: dict[str, PlaceKind] = {
    Status.QUEUED.value: PlaceKind.QUEUE,
    Status.STARTED.value: PlaceKind.STARTED,
    Status.DEFERRED.value: PlaceKind.DEFERRED,
    Status.SCHEDULED.value: PlaceKind.SCHEDULED,
    Status.RATE_LIMITED.value: PlaceKind.RATE_LIMITED,
    Status.FINISHED.value: PlaceKind.FINISHED,
    Status.FAILED.value: PlaceKind.FAILED,
    Status.CANCELED.value: PlaceKind.CANCELED,
}


@dataclass(frozen=True)
class QueueRow:
    """One queue: how many jobs are in it and in each of its registries, how many workers listen
    to it, and how long its front job has waited (seconds; None when it is empty)."""

    name: str
    counts: dict[str, int]
    workers: int
    latency: float | None = None


@dataclass(frozen=True)
class WorkerRow:
    """One live worker, as its record says. ``current_jobs`` lists the jobs it runs now (one at
    most for a worker that runs one job at a time), ``job_started`` when each started."""

    name: str
    state: str
    queues: tuple[str, ...]
    current_jobs: tuple[str, ...]
    hostname: str | None
    pid: int
    successful: int
    failed: int
    birth_date: datetime.datetime | None
    last_heartbeat: datetime.datetime | None
    job_started: dict[str, datetime.datetime | None] = field(default_factory=dict)

    @property
    def current_job(self) -> str | None:
        """The (first) job the worker runs now, or None when it runs none."""
        return self.current_jobs[0] if self.current_jobs else None

    @classmethod
    def of(cls, worker: BaseWorker) -> WorkerRow:
        """The row of a worker view (from ``Worker.all``)."""
        current = worker.get_current_job_id()
        return cls(
            name=worker.name,
            state=str(worker.state),
            queues=tuple(worker.queue_names()),
            current_jobs=(current,) if current else (),
            hostname=worker.hostname,
            pid=worker.pid,
            successful=worker.successful_job_count,
            failed=worker.failed_job_count,
            birth_date=worker.birth_date,
            last_heartbeat=worker.last_heartbeat,
        )


@dataclass(frozen=True)
class Snapshot:
    """The queues and workers of one store at one moment."""

    store: str
    taken_at: datetime.datetime
    queues: list[QueueRow]
    workers: list[WorkerRow]
    #: How long workers stay suspended: seconds, ``math.inf`` until resumed, None: not suspended.
    suspension: float | None = None

    @property
    def suspended_until(self) -> datetime.datetime | None:
        """When a suspension with a duration ends by itself (None: not suspended, or until
        resumed)."""
        if self.suspension is None or math.isinf(self.suspension):
            return None
        return self.taken_at + datetime.timedelta(seconds=self.suspension)

    def workers_by_queue(self) -> dict[str, list[WorkerRow]]:
        """For each shown queue, the workers listening to it."""
        return {row.name: [w for w in self.workers if row.name in w.queues] for row in self.queues}


def place_of(queue: str, status: str) -> Place:
    """The place of ``queue`` that holds its jobs of ``status`` (one of :data:`COUNTS`)."""
    kind = _PLACE_KINDS.get(status)
    if kind is None:
        raise ValueError(f"unknown status {status!r}: use one of {', '.join(COUNTS)}")
    return Place(kind, queue)


def queue_counts(broker: Broker, names: Sequence[str]) -> list[dict[str, int]]:
    """The count of every listed status of each queue of ``names``, in one call to the broker
    (one round trip on Redis). The started registry is counted as it is: ending abandoned jobs is
    maintenance's work, not a reader's."""
    places = [place_of(name, status) for name in names for status in COUNTS]
    counts = broker.place_counts(places)
    width = len(COUNTS)
    return [dict(zip(COUNTS, counts[i * width : (i + 1) * width], strict=True)) for i in range(len(names))]


def _timestamp(value: bytes | None) -> datetime.datetime | None:
    if not value:
        return None
    try:
        return parse_timestamp(value.decode("utf-8", errors="replace"))
    except ValueError:
        # A record written by something else than jq: no latency rather than no overview.
        return None


def queue_latencies(broker: Broker, names: Sequence[str], at: datetime.datetime) -> list[float | None]:
    """How long the front job of each queue has waited at ``at`` (seconds), None for an empty
    queue: two calls to the broker whatever the number of queues."""
    heads = broker.queue_heads(names)
    present = [head for head in heads if head is not None]
    records = dict(zip(present, broker.load_jobs(present), strict=True)) if present else {}
    latencies: list[float | None] = []
    for head in heads:
        record = records.get(head) if head is not None else None
        since = _timestamp(record.get("enqueued_at") or record.get("created_at")) if record else None
        latencies.append(None if since is None else max((at - since).total_seconds(), 0.0))
    return latencies


def _with_job_starts(broker: Broker, workers: list[WorkerRow]) -> list[WorkerRow]:
    """The rows, each with when its current jobs started (one call to the broker for all)."""
    ids = [job_id for worker in workers for job_id in worker.current_jobs]
    if not ids:
        return workers
    records = dict(zip(ids, broker.load_jobs(ids), strict=True))
    rows = []
    for worker in workers:
        started = {
            job_id: _timestamp(record.get("started_at")) if (record := records.get(job_id)) else None
            for job_id in worker.current_jobs
        }
        rows.append(replace(worker, job_started=started))
    return rows


def take_snapshot(broker: Broker, queue_names: Sequence[str] = ()) -> Snapshot:
    """Read the queues named (every known queue when none is) and the workers of those queues,
    in a few round trips whatever their number."""
    # A Queue checks its name: a name no queue can have is the caller's mistake, said at once.
    names = [Queue(name, connection=broker).name for name in queue_names] or sorted(broker.queue_names())
    taken_at = now()
    workers = sorted((WorkerRow.of(w) for w in BaseWorker.all(connection=broker)), key=lambda w: w.name)
    if queue_names:
        workers = [w for w in workers if set(w.queues) & set(names)]
    workers = _with_job_starts(broker, workers)
    counts = queue_counts(broker, names)
    latencies = queue_latencies(broker, names, taken_at)
    rows = [
        QueueRow(name, counted, sum(name in w.queues for w in workers), latency)
        for name, counted, latency in zip(names, counts, latencies, strict=True)
    ]
    return Snapshot(
        store=broker.url,
        taken_at=taken_at,
        queues=rows,
        workers=workers,
        suspension=broker.suspension_remaining(),
    )
