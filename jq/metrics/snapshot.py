"""Every queue's counts and latency, the workers by state and the totals of outcomes, read in a
few round trips whatever the number of jobs: what a dashboard's overview and a Prometheus scrape
show.

    from jq.metrics import read_stats

    stats = read_stats("redis://localhost:6379/0")
    for queue in stats.queues:
        print(queue.name, queue.counts["queued"], queue.counts["failed"], queue.latency)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jq.base.utils import parse_timestamp
from jq.broker import WORKER_STATE, Broker, Counts, PlaceKind, Status, WorkerState
from jq.io.connections import resolve_broker

__all__ = ["STATUSES", "QueueStats", "StoreStats", "read_stats", "read_totals"]

#: The statuses a queue's counts are given by: its queue and each of its registries.
STATUSES: Mapping[PlaceKind, str] = {
    PlaceKind.QUEUE: Status.QUEUED.value,
    PlaceKind.STARTED: Status.STARTED.value,
    PlaceKind.SCHEDULED: Status.SCHEDULED.value,
    PlaceKind.DEFERRED: Status.DEFERRED.value,
    PlaceKind.RATE_LIMITED: Status.RATE_LIMITED.value,
    PlaceKind.FINISHED: Status.FINISHED.value,
    PlaceKind.FAILED: Status.FAILED.value,
    PlaceKind.CANCELED: Status.CANCELED.value,
}

#: The field of a job's record that says when it was queued.
_ENQUEUED_AT = "enqueued_at"


@dataclass(frozen=True)
class QueueStats:
    """One queue: ``counts`` of its jobs by status (queued, started, scheduled, deferred,
    rate_limited, finished, failed, canceled: the ids in the queue and in each registry), and
    ``latency``: how long the job at its front (the next one out) has waited, in seconds (0 when
    the queue is empty)."""

    name: str
    counts: Mapping[str, int]
    latency: float = 0.0


@dataclass(frozen=True)
class StoreStats:
    """The store at one moment (``taken_at``, by its clock): its queues and its live workers by
    state (started, suspended, busy, idle)."""

    url: str
    taken_at: float
    queues: list[QueueStats]
    workers: Mapping[str, int] = field(default_factory=dict)


def _latency(fields: Mapping[str, bytes | None], now: float) -> float:
    text = fields.get(_ENQUEUED_AT)
    if not text:
        return 0.0
    try:
        return max(now - parse_timestamp(text.decode()).timestamp(), 0.0)
    except (UnicodeDecodeError, ValueError):
        return 0.0  # a record jq did not write: no latency rather than a failed read


def _worker_states(broker: Broker) -> dict[str, int]:
    states = dict.fromkeys((state.value for state in WorkerState), 0)
    for record in broker.load_workers(broker.worker_names()):
        if record is not None:
            state = record.get(WORKER_STATE, b"").decode("utf-8", "replace") or WorkerState.STARTED.value
            states[state] = states.get(state, 0) + 1
    return states


def read_stats(connection: Any = None, queues: Sequence[str] | None = None) -> StoreStats:
    """Read the queues named (None: every known queue) and the workers: three round trips on
    Redis (the queues' counts, their front jobs' times, the workers), whatever the number of jobs.

    ``connection``: a broker, a redis-py client or a URL, as ``Queue(connection=...)`` takes;
    None: the current :class:`~jq.Connection` or ``JQ_URL``.
    """
    broker = resolve_broker(connection)
    names = sorted(broker.queue_names()) if queues is None else list(queues)
    snapshots = broker.queue_snapshots(names, [_ENQUEUED_AT])
    now = broker.now()
    rows = [
        QueueStats(
            snapshot.queue,
            {STATUSES[kind]: snapshot.counts.get(kind, 0) for kind in STATUSES},
            _latency(snapshot.head_fields, now) if snapshot.head else 0.0,
        )
        for snapshot in snapshots
    ]
    return StoreStats(broker.url, now, rows, _worker_states(broker))


def read_totals(connection: Any = None, queues: Sequence[str] | None = None) -> dict[tuple[str, str], Counts]:
    """The totals of outcomes since each queue's first, by (queue, function): one round trip
    (see :mod:`jq.broker.history`; a store whose driver keeps no history has none)."""
    broker = resolve_broker(connection)
    names = sorted(broker.queue_names()) if queues is None else list(queues)
    return {
        (queue, function): counts
        for queue, by_function in zip(names, broker.history_totals(names), strict=True)
        for function, counts in by_function.items()
    }
