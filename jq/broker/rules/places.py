"""Where a job is: queue positions, registry entries, and the steps that move an id between them.

These are steps inside a caller's atomic block (they take its :class:`StoreTransaction`), never
blocks of their own. A queue is a set whose scores are positions: the back is one past the
highest, the front one below the lowest, so a push or a pop never reorders the rest.
"""

from __future__ import annotations

import math

from jq.broker.rules.fields import PLACE_OF_STATUS
from jq.broker.store import Collection, RecordKind, SetKind, StoreTransaction
from jq.broker.types import ORIGIN, STATUS, Place, PlaceKind, Record

__all__ = [
    "KNOWN_QUEUES",
    "holder",
    "holds",
    "keep_canceled",
    "next_score",
    "queue_of",
    "queue_pop",
    "queue_push",
    "remove_all",
    "reserved_of",
    "take_out",
    "take_out_of",
]

#: The names of the known queues (:meth:`jq.broker.QueueStore.queue_names`).
KNOWN_QUEUES = Collection(SetKind.QUEUES)


def queue_of(name: str) -> Collection:
    """The set of a queue's ids."""
    return Collection(SetKind.QUEUE, name)


def next_score(tx: StoreTransaction, collection: Collection, *, front: bool = False) -> float:
    """A score after every member's (before, with ``front``): 0 for an empty set.

    Used for every set kept in arrival order: queues, a job's dependents, a rate limit's line.
    """
    edge = tx.members(collection, 0, 0) if front else tx.members(collection, -1, -1)
    if not edge:
        return 0.0
    score = tx.score(collection, edge[0])
    assert score is not None  # a member just listed has a score
    return score - 1 if front else score + 1


def queue_push(tx: StoreTransaction, queue: str, job_id: str, *, at_front: bool) -> None:
    """Put the id at the back (or front) of the queue, which becomes known.

    The store wakes blocked claimers for it (an add to a queue set is a push).
    """
    ids = queue_of(queue)
    tx.add(ids, job_id, next_score(tx, ids, front=at_front))
    # A job on a queue must be findable through the queue's name, however it got there.
    tx.add(KNOWN_QUEUES, queue, 0.0)


def queue_pop(tx: StoreTransaction, queue: str) -> str | None:
    """Take the first id off the queue, or None when it is empty."""
    ids = queue_of(queue)
    first = tx.members(ids, 0, 0)
    if not first:
        return None
    tx.remove(ids, first[0])
    return first[0]


def reserved_of(name: str) -> Collection:
    """The set of the ids reserved from a queue (see :class:`jq.broker.Reservation`)."""
    return Collection(SetKind.RESERVED, name)


def holds(tx: StoreTransaction, place: Place, job_id: str) -> bool:
    """Whether the id is in the queue or registry."""
    return tx.score(Collection.of(place), job_id) is not None


def holder(tx: StoreTransaction, place: Place, job_id: str) -> Collection | None:
    """The set holding the id for a move out of ``place``: the place's own, or, for a queue, the
    queue's reserved registry when the job is reserved (a reserved job is still in its queue
    for whatever takes it out); None when neither holds it."""
    collection = Collection.of(place)
    if tx.score(collection, job_id) is not None:
        return collection
    if place.kind is PlaceKind.QUEUE:
        reserved = reserved_of(place.queue)
        if tx.score(reserved, job_id) is not None:
            return reserved
    return None


def take_out_of(tx: StoreTransaction, place: Place, job_id: str) -> None:
    """Remove the id from ``place`` (from a queue: from its reserved registry too)."""
    tx.remove(Collection.of(place), job_id)
    if place.kind is PlaceKind.QUEUE:
        tx.remove(reserved_of(place.queue), job_id)


def remove_all(tx: StoreTransaction, collection: Collection) -> list[str]:
    """Empty a set; its members as they were, in order."""
    members = tx.members(collection)
    for member in members:
        tx.remove(collection, member)
    return members


def take_out(tx: StoreTransaction, job_id: str, record: Record) -> None:
    """Take a job out of the place its status names in its origin (it is being replaced)."""
    origin = record.get(ORIGIN)
    kind = PLACE_OF_STATUS.get(record.get(STATUS, b""))
    if origin is None or kind is None:
        return
    take_out_of(tx, Place(kind, origin.decode()), job_id)


def keep_canceled(tx: StoreTransaction, job_id: str, queue: str, ttl: int, moment: float, now: float) -> None:
    """File a canceled job under its origin's canceled registry for ``ttl`` seconds.

    Positive: scored ``moment + ttl`` (the caller's time) and expiring ``ttl`` seconds from
    ``now`` (the store's clock, which expiry is measured by); negative: kept forever (score
    ``inf``); zero: not kept at all (record, results and dependency sets deleted, no entry).
    """
    if ttl == 0:
        tx.delete(RecordKind.JOB, job_id)
        return
    tx.add(Collection.of(Place(PlaceKind.CANCELED, queue)), job_id, moment + ttl if ttl > 0 else math.inf)
    tx.expire(RecordKind.JOB, job_id, now + ttl if ttl > 0 else None)
