"""Giving jobs back: a job claimed (or reserved) and never started goes back to the front of its
queue, as if it had not been taken, each step guarded by the taker's execution id (refused,
nothing written, once that execution no longer owns the job). What a worker does when it stops
before running what it took, and what maintenance does for a worker that died holding
reservations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from jq.broker import (
    EXECUTION,
    STATUS,
    Broker,
    Claimed,
    Move,
    Place,
    PlaceKind,
    RecordEdit,
    Reservation,
    Status,
    ToQueue,
    Transition,
    WorkerUpdate,
)

if TYPE_CHECKING:
    from jq.core.job import Job

__all__ = [
    "give_back",
    "give_back_all",
    "give_back_claim",
    "giving_back",
    "return_abandoned_reservations",
    "returning",
    "unclaim",
]

_QUEUED = Status.QUEUED.stored


def unclaim(job: Job, worker_update: WorkerUpdate | None = None) -> bool:
    """Put a claimed job that never started running back at the front of its queue, as if it had
    not been claimed (a worker that claimed its next job, then was told to stop).
    """
    return give_back(job.broker, job.id, job.origin, job.execution_id, worker_update)


def give_back(
    broker: Broker,
    job_id: str,
    queue: str,
    execution_id: str | None,
    worker_update: WorkerUpdate | None = None,
) -> bool:
    """Put job ``job_id``, claimed from ``queue`` by execution ``execution_id`` and never started,
    back at the front of that queue in one step; False (nothing written) when that execution no
    longer owns the job (it was ended, or claimed again, meanwhile)."""
    return broker.transition(giving_back(job_id, queue, execution_id, worker_update))


def giving_back(
    job_id: str, queue: str, execution_id: str | None, worker_update: WorkerUpdate | None = None
) -> Transition:
    """The step of :func:`give_back`, for a call that makes several (see :func:`give_back_all`)."""
    return Transition(
        job_id,
        Move(Place(PlaceKind.STARTED, queue), ToQueue(queue, at_front=True)),
        RecordEdit(
            {STATUS: _QUEUED}, delete_fields=("started_at", "worker_name", EXECUTION, "last_heartbeat")
        ),
        execution_id=execution_id,
        worker=worker_update,
    )


def returning(reservation: Reservation, worker_update: WorkerUpdate | None = None) -> Transition:
    """The step that puts a reserved job (see :class:`jq.broker.Reservation`) back at the front
    of its queue, without its execution id; refused (nothing written) once the reservation is
    over (the job was started, canceled, or given back meanwhile)."""
    return Transition(
        reservation.job_id,
        Move(Place(PlaceKind.RESERVED, reservation.queue), ToQueue(reservation.queue, at_front=True)),
        RecordEdit(delete_fields=(EXECUTION,)),
        execution_id=reservation.execution_id,
        worker=worker_update,
    )


def give_back_all(
    broker: Broker,
    claimed: Claimed | None,
    reservations: Sequence[Reservation],
    worker_update: WorkerUpdate | None = None,
) -> list[str]:
    """A job claimed and never started (``claimed``) and the jobs reserved after it, in the order
    they were to run, go back to the front of their queues in that order, in one call (atomic on
    jq's drivers), each guarded by its own execution id; the ids given back."""
    changes = [returning(reservation, worker_update) for reservation in reversed(reservations)]
    ids = [reservation.job_id for reservation in reversed(reservations)]
    if claimed is not None:
        execution = claimed.record.get(EXECUTION)
        execution_id = execution.decode("ascii", errors="replace") if execution else None
        changes.append(giving_back(claimed.job_id, claimed.queue, execution_id, worker_update))
        ids.append(claimed.job_id)
    if not changes:
        return []
    moved, _ = broker.transition_many(changes)
    return [job_id for job_id, done in reversed(list(zip(ids, moved, strict=True))) if done]


def return_abandoned_reservations(broker: Broker, queue: str, now: float | None = None) -> list[str]:
    """Put the jobs whose reservation's lease ran out (its worker died) back at the front of
    ``queue``, in the order they were reserved, in one call; the ids put back. ``now``: the
    store's clock, by default. An entry whose job is gone or no longer queued leaves the
    registry."""
    registry = Place(PlaceKind.RESERVED, queue)
    expired = broker.registry_expired(registry, broker.now() if now is None else now)
    if not expired:
        return []
    changes: list[Transition] = []
    for job_id, record in zip(expired, broker.load_jobs(expired), strict=True):
        execution = None if record is None else record.get(EXECUTION)
        if record is None or record.get(STATUS) != _QUEUED or execution is None:
            broker.registry_remove(registry, job_id)
            continue
        changes.append(returning(Reservation(job_id, queue, execution.decode("ascii", errors="replace"))))
    moved, _ = broker.transition_many(changes[::-1])
    returned = [change.job_id for change, done in zip(changes[::-1], moved, strict=True) if done]
    return returned[::-1]


def give_back_claim(claimed: Claimed, broker: Broker, worker_update: WorkerUpdate | None = None) -> bool:
    """:func:`give_back` for a claim as the broker returned it (its queue and its execution id are
    the claim's own, whatever the record says)."""
    execution = claimed.record.get(EXECUTION)
    execution_id = execution.decode("ascii", errors="replace") if execution else None
    return give_back(broker, claimed.job_id, claimed.queue, execution_id, worker_update)
