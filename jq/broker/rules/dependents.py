"""Dependencies between jobs: who waits for whom, and settling the waiters when a job moves
(see :class:`jq.broker.DependentsPolicy`). Steps inside a caller's atomic block.

A job's :attr:`SetKind.DEPENDENCIES` set holds its unmet dependencies; a job's
:attr:`SetKind.DEPENDENTS` set holds the ids waiting for it, scored in the order they began to
wait, so that released dependents are queued in that order on every store. Both belong to the
job's record: they go (and expire) with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from jq.broker.rules.fields import CANCELED, DEFERRED, SCHEDULED, failure_ttl, scheduled_time
from jq.broker.rules.places import keep_canceled, next_score
from jq.broker.rules.slots import to_queue
from jq.broker.store import Collection, RecordKind, SetKind, StoreTransaction
from jq.broker.types import (
    ALLOW_FAILURE,
    ENQUEUE_AT_FRONT,
    FAILURE_TTL,
    ORIGIN,
    SCHEDULED_AT,
    STATUS,
    DependentsPolicy,
    Place,
    PlaceKind,
    Record,
    Settlement,
)

__all__ = [
    "add_dependent",
    "dependents",
    "forget_unmet",
    "leave_dependencies",
    "set_unmet",
    "settle_dependents",
    "unmet",
]


def _dependents_of(job_id: str) -> Collection:
    return Collection(SetKind.DEPENDENTS, job_id)


def _unmet_of(job_id: str) -> Collection:
    return Collection(SetKind.DEPENDENCIES, job_id)


def dependents(tx: StoreTransaction, job_id: str) -> list[str]:
    """The ids waiting for the job, in the order they began to wait."""
    return tx.members(_dependents_of(job_id))


def unmet(tx: StoreTransaction, job_id: str) -> list[str]:
    """The job's unmet dependencies."""
    return tx.members(_unmet_of(job_id))


def add_dependent(tx: StoreTransaction, parent: str, child: str) -> None:
    """List ``child`` among the parent's dependents, keeping its place if it is there already."""
    waiting = _dependents_of(parent)
    if tx.score(waiting, child) is None:
        tx.add(waiting, child, next_score(tx, waiting))


def set_unmet(tx: StoreTransaction, job_id: str, parents: Iterable[str]) -> None:
    """Record the job's unmet dependencies and add it to each one's dependents."""
    for parent in parents:
        tx.add(_unmet_of(job_id), parent, 0.0)
        add_dependent(tx, parent, job_id)


def forget_unmet(tx: StoreTransaction, job_id: str) -> None:
    """Empty the job's set of unmet dependencies (they keep listing it: see
    :func:`leave_dependencies`)."""
    for parent in unmet(tx, job_id):
        tx.remove(_unmet_of(job_id), parent)


def leave_dependencies(tx: StoreTransaction, job_id: str) -> None:
    """The job stops waiting for its unmet dependencies (``Transition.leave_dependencies``, and
    a job replaced by an enqueue, whose request names the new ones)."""
    for parent in unmet(tx, job_id):
        tx.remove(_dependents_of(parent), job_id)
        tx.remove(_unmet_of(job_id), parent)


def _stop_waiting(tx: StoreTransaction, child: str, parent: str) -> bool:
    """Take ``parent`` out of the child's unmet dependencies; whether any are left."""
    tx.remove(_unmet_of(child), parent)
    return tx.count(_unmet_of(child)) > 0


def settle_dependents(
    tx: StoreTransaction,
    job_id: str,
    settlement: Settlement,
    released_fields: Mapping[str, bytes],
    now: float,
) -> None:
    """Release, leave waiting or cancel the dependents of ``job_id`` as ``settlement`` says (see
    :class:`DependentsPolicy`), writing ``released_fields`` on those released; ``now`` is the
    store's clock, used when ``settlement.now`` is None."""
    moment = now if settlement.now is None else settlement.now
    canceling = settlement.cancellation
    # Depth first over the jobs whose dependents are settled: the job itself, then each
    # dependent canceled on the way, whose own dependents are settled as VANISHED. A canceled
    # job is filed (registry, expiry) only after its own dependents were settled: a TTL of
    # zero deletes its set of dependents. `visited` guards against a cycle of dependents.
    stack: list[tuple[str, DependentsPolicy, tuple[str, int] | None]] = [(job_id, settlement.policy, None)]
    visited = {job_id}
    while stack:
        parent, policy, canceled = stack.pop()
        for child in dependents(tx, parent):
            record = tx.read(RecordKind.JOB, child)
            if record is None:
                tx.remove(_dependents_of(parent), child)
                forget_unmet(tx, child)
                continue
            deferred = record.get(STATUS) == DEFERRED and ORIGIN in record
            tolerant = record.get(ALLOW_FAILURE) == b"1"
            if policy is DependentsPolicy.FAILED and deferred and not tolerant:
                continue  # it waits for the job to be requeued and to succeed
            tx.remove(_dependents_of(parent), child)
            still_waiting = _stop_waiting(tx, child, parent)
            if policy is not DependentsPolicy.VANISHED or tolerant:
                if not still_waiting:
                    release(tx, child, record, released_fields, moment, now)
            elif child not in visited and deferred and canceling is not None:
                visited.add(child)
                queue = record[ORIGIN].decode()
                tx.remove(Collection.of(Place(PlaceKind.DEFERRED, queue)), child)
                record.update(canceling.fields)
                record[STATUS] = CANCELED  # last: a canceled field never overrides it
                tx.write(RecordKind.JOB, child, record, replace=True)
                ttl = failure_ttl(record.get(FAILURE_TTL), canceling.default_failure_ttl)
                stack.append((child, DependentsPolicy.VANISHED, (queue, ttl)))
        if canceled is not None:
            keep_canceled(tx, parent, *canceled, moment, now)


def release(
    tx: StoreTransaction,
    job_id: str,
    record: Record,
    released_fields: Mapping[str, bytes],
    moment: float,
    now: float,
) -> None:
    """Queue a deferred job whose dependencies are all met, or schedule it when its
    :data:`SCHEDULED_AT` time is after ``moment`` (nothing when it is not deferred). ``now``, the
    store's clock, scores a rate-limit slot or place in line it takes."""
    origin = record.get(ORIGIN)
    if record.get(STATUS) != DEFERRED or origin is None:
        return
    queue = origin.decode()
    tx.remove(Collection.of(Place(PlaceKind.DEFERRED, queue)), job_id)
    record.update(released_fields)
    due = scheduled_time(record.get(SCHEDULED_AT))
    if due is not None and due > moment:
        tx.add(Collection.of(Place(PlaceKind.SCHEDULED, queue)), job_id, due)
        record[STATUS] = SCHEDULED
    else:
        # The status is written last: a claimer drops any id whose status is not queued (a job
        # waiting for a rate-limit slot gets rate_limited instead).
        at_front = record.get(ENQUEUE_AT_FRONT) == b"1"
        record[STATUS] = to_queue(tx, job_id, record, queue, at_front=at_front, now=now)
    tx.write(RecordKind.JOB, job_id, record, replace=True)
