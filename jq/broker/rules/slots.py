"""Rate-limit slots (see :class:`jq.broker.RateLimitStore`), as steps inside the atomic block of
whichever call moves a job: admission (rule 1), release (rule 2), the line moving (rule 3) and a
waiting job leaving its line (rule 4).

A key's data is three sets: its slots (:attr:`SetKind.RATE_SLOTS`, the ids holding one, scored by
when they took it or by the lease a canceled running job keeps it to), its line
(:attr:`SetKind.RATE_LINE`, scored by place in line), and its entry in the set of keys in use
(:attr:`SetKind.RATE_KEYS`), *scored by the concurrency last asked for* with that key, which is
what :meth:`~jq.broker.RateLimitStore.rate_limit_concurrency` reports. A key is in use while its
slots or its line hold an id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from jq.broker.rules.fields import QUEUED, RATE_LIMITED, STARTED, Limit, limit_of
from jq.broker.rules.places import next_score, queue_push
from jq.broker.store import Collection, RecordKind, SetKind, StoreTransaction
from jq.broker.types import ENQUEUE_AT_FRONT, ORIGIN, STATUS, Place, PlaceKind

__all__ = ["KEYS_IN_USE", "after_move", "fill", "line_of", "release_slots", "slots_of", "to_queue"]

#: The rate-limit keys in use, each scored by the concurrency last asked for with it.
KEYS_IN_USE = Collection(SetKind.RATE_KEYS)


def slots_of(key: str) -> Collection:
    """The ids holding a slot of ``key``."""
    return Collection(SetKind.RATE_SLOTS, key)


def line_of(key: str) -> Collection:
    """The ids waiting for a slot of ``key``, in line."""
    return Collection(SetKind.RATE_LINE, key)


def to_queue(
    tx: StoreTransaction,
    job_id: str,
    record: Mapping[str, bytes],
    queue: str,
    *,
    at_front: bool,
    now: float,
) -> bytes:
    """Put a job on its queue, unless its rate limit makes it wait (rule 1): the status the
    caller writes last, ``queued`` or ``rate_limited`` (then it joined its key's line and its
    origin's rate_limited registry, and is on no queue, so no claimer is woken)."""
    limit = limit_of(record)
    if limit is not None and not _take_slot(tx, job_id, limit, now):
        key, concurrency = limit
        line = line_of(key)
        tx.add(line, job_id, next_score(tx, line))
        tx.add(KEYS_IN_USE, key, concurrency)
        tx.add(Collection.of(Place(PlaceKind.RATE_LIMITED, queue)), job_id, now)
        return RATE_LIMITED
    queue_push(tx, queue, job_id, at_front=at_front)
    return QUEUED


def _take_slot(tx: StoreTransaction, job_id: str, limit: Limit, now: float) -> bool:
    """Whether the job holds a slot of its key, taking a free one when nobody waits for it."""
    key, concurrency = limit
    slots = slots_of(key)
    if tx.score(slots, job_id) is not None:
        return True  # an immediate retry or repeat of a started job keeps its slot
    if tx.count(line_of(key)) == 0 and tx.count(slots) < concurrency:
        tx.add(slots, job_id, now)
        tx.add(KEYS_IN_USE, key, concurrency)
        return True
    return False


def after_move(
    tx: StoreTransaction,
    job_id: str,
    limit: Limit | None,
    old_status: bytes | None,
    new_status: bytes | None,
    released_fields: Mapping[str, bytes],
    now: float,
    keep_until: float | None = None,
) -> None:
    """Rules 2 and 4 after a call moved a limited job from ``old_status`` to ``new_status``
    (None: its record was deleted): it leaves its line, and frees its slot unless it is queued or
    started (``keep_until``: keep the slot until then instead, for a running job ended by
    another call than its execution's outcome: its code may still be running)."""
    if limit is None:
        return
    key = limit[0]
    if tx.score(KEYS_IN_USE, key) is None:
        return
    if old_status == RATE_LIMITED and new_status != RATE_LIMITED:
        tx.remove(line_of(key), job_id)
    slots = slots_of(key)
    if new_status not in (QUEUED, STARTED) and tx.score(slots, job_id) is not None:
        if keep_until is not None:
            tx.add(slots, job_id, keep_until)
        else:
            tx.remove(slots, job_id)
            fill(tx, key, released_fields, now)
    _forget_if_unused(tx, key)


def fill(tx: StoreTransaction, key: str, released_fields: Mapping[str, bytes], now: float) -> list[str]:
    """Rule 3: admit the jobs waiting for ``key`` in line order while the first one's concurrency
    allows (each slot scored ``now``, the store's clock); the ids admitted."""
    if tx.score(KEYS_IN_USE, key) is None:
        return []
    line, slots = line_of(key), slots_of(key)
    admitted: list[str] = []
    while first := tx.members(line, 0, 0):
        job_id = first[0]
        record = tx.read(RecordKind.JOB, job_id)
        if record is None or record.get(STATUS) != RATE_LIMITED or ORIGIN not in record:
            tx.remove(line, job_id)  # gone, or no longer waiting: not in line any more
            continue
        found = limit_of(record)
        if tx.count(slots) >= (found[1] if found is not None else 1):
            break
        tx.remove(line, job_id)
        queue = record[ORIGIN].decode()
        tx.remove(Collection.of(Place(PlaceKind.RATE_LIMITED, queue)), job_id)
        tx.add(slots, job_id, now)
        record.update(released_fields)
        record[STATUS] = QUEUED  # last: a released field never overrides it
        tx.write(RecordKind.JOB, job_id, record, replace=True)
        queue_push(tx, queue, job_id, at_front=record.get(ENQUEUE_AT_FRONT) == b"1")
        admitted.append(job_id)
    return admitted


def release_slots(
    tx: StoreTransaction,
    key: str,
    job_ids: Sequence[str] | None,
    released_fields: Mapping[str, bytes],
    before: float,
    now: float,
) -> list[str]:
    """:meth:`jq.broker.RateLimitStore.release_rate_limit_slots` inside a block: ``before`` is
    the caller's ``now`` that kept slots' scores are compared with, ``now`` the store's clock."""
    if tx.score(KEYS_IN_USE, key) is None:
        return []
    slots = slots_of(key)
    for job_id in tx.members(slots) if job_ids is None else job_ids:
        score = tx.score(slots, job_id)
        if score is None:
            continue
        record = tx.read(RecordKind.JOB, job_id)
        holds = record is not None and record.get(STATUS) in (QUEUED, STARTED)
        if record is None or (not holds and (job_ids is not None or score <= before)):
            tx.remove(slots, job_id)
    admitted = fill(tx, key, released_fields, now)
    _forget_if_unused(tx, key)
    return admitted


def _forget_if_unused(tx: StoreTransaction, key: str) -> None:
    if tx.count(slots_of(key)) == 0 and tx.count(line_of(key)) == 0:
        tx.remove(KEYS_IN_USE, key)
