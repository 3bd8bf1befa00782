"""The memory driver's rate-limit slots (see :class:`jq.broker.RateLimitStore`), as steps the
other mixins make inside their own critical section (the condition held).

Each function takes the :class:`~jq_backends.memory._base.MemoryState` it works on. A *limit* is
``(key, concurrency)`` as a job's record names it (:func:`limit_of`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from jq.broker import ENQUEUE_AT_FRONT, ORIGIN, RATE_LIMIT_CONCURRENCY, RATE_LIMIT_KEY, STATUS, PlaceKind
from jq_backends.memory._tables import RateLimitState

if TYPE_CHECKING:
    from jq_backends.memory._base import MemoryState

__all__ = ["RATE_LIMITED", "after_move", "fill", "limit_of", "release_slots", "to_queue"]

QUEUED, STARTED = b"queued", b"started"
#: The status of a job waiting for a slot.
RATE_LIMITED = b"rate_limited"

Limit = tuple[str, int]


def limit_of(record: Mapping[str, bytes] | None) -> Limit | None:
    """The rate limit a record (or the fields of one) names, or None: a key and a whole
    concurrency of at least 1, as the Lua scripts read them."""
    if record is None:
        return None
    key, concurrency = record.get(RATE_LIMIT_KEY), record.get(RATE_LIMIT_CONCURRENCY)
    if not key or concurrency is None or not concurrency.isdigit() or int(concurrency) < 1:
        return None
    return key.decode("utf-8", "replace"), int(concurrency)


def to_queue(
    state: MemoryState, job_id: str, record: Mapping[str, bytes], queue: str, *, at_front: bool
) -> bytes:
    """Put a job on its queue, unless its rate limit makes it wait (rule 1): the status the
    caller writes last, ``queued`` or ``rate_limited`` (then it joined its key's line and its
    origin's rate_limited registry, and no claimer is woken)."""
    limit = limit_of(record)
    now = state._clock()
    if limit is not None and not _take_slot(state, job_id, limit, now):
        key, concurrency = limit
        limited = state._rate_limits[key]
        limited.seq += 1
        limited.concurrency = concurrency
        limited.waiting.add(job_id, limited.seq)
        state._registry(PlaceKind.RATE_LIMITED, queue).add(job_id, now)
        return RATE_LIMITED
    state._push(queue, job_id, at_front=at_front)
    return QUEUED


def _take_slot(state: MemoryState, job_id: str, limit: Limit, now: float) -> bool:
    """Whether the job holds a slot of its key, taking a free one when nobody waits for it."""
    key, concurrency = limit
    limited = state._rate_limits.get(key)
    if limited is None:
        limited = state._rate_limits[key] = RateLimitState(concurrency)
    if job_id in limited.slots:
        return True
    if not limited.waiting and len(limited.slots) < concurrency:
        limited.slots.add(job_id, now)
        limited.concurrency = concurrency
        return True
    return False


def after_move(
    state: MemoryState,
    job_id: str,
    limit: Limit | None,
    old_status: bytes | None,
    new_status: bytes | None,
    released_fields: Mapping[str, bytes],
    keep_until: float | None = None,
) -> None:
    """Rules 2 and 4 after a call moved a limited job from ``old_status`` to ``new_status``
    (None: its record was deleted): it leaves its line, and frees its slot unless it is queued or
    started (``keep_until``: keep the slot until then instead, for a running job ended by
    another call than its execution's outcome)."""
    if limit is None:
        return
    key = limit[0]
    limited = state._rate_limits.get(key)
    if limited is None:
        return
    if old_status == RATE_LIMITED and new_status != RATE_LIMITED:
        limited.waiting.discard(job_id)
    if new_status not in (QUEUED, STARTED) and job_id in limited.slots:
        if keep_until is not None:
            limited.slots.add(job_id, keep_until)
        else:
            limited.slots.discard(job_id)
            fill(state, key, released_fields)
    _forget_if_unused(state, key)


def fill(state: MemoryState, key: str, released_fields: Mapping[str, bytes]) -> list[str]:
    """Rule 3: admit the jobs waiting for ``key`` in line order while the first one's concurrency
    allows (each slot scored with the store's clock); the ids admitted."""
    limited = state._rate_limits.get(key)
    now = state._clock()
    admitted: list[str] = []
    while limited is not None and limited.waiting:
        job_id = limited.waiting.ordered()[0]
        record = state._jobs.live(job_id)
        if record is None or record.get(STATUS) != RATE_LIMITED or ORIGIN not in record:
            limited.waiting.discard(job_id)  # gone, or no longer waiting: not in line any more
            continue
        found = limit_of(record)
        if len(limited.slots) >= (found[1] if found is not None else 1):
            break
        limited.waiting.discard(job_id)
        queue = record[ORIGIN].decode()
        state._registry(PlaceKind.RATE_LIMITED, queue).discard(job_id)
        limited.slots.add(job_id, now)
        record.update(released_fields)
        record[STATUS] = QUEUED  # last: a released field never overrides it
        state._push(queue, job_id, at_front=record.get(ENQUEUE_AT_FRONT) == b"1")
        admitted.append(job_id)
    return admitted


def release_slots(
    state: MemoryState,
    key: str,
    job_ids: Sequence[str] | None,
    released_fields: Mapping[str, bytes],
    now: float,
) -> list[str]:
    """:meth:`jq.broker.RateLimitStore.release_rate_limit_slots` (the condition held)."""
    limited = state._rate_limits.get(key)
    if limited is None:
        return []
    for job_id in limited.slots.ordered() if job_ids is None else job_ids:
        score = limited.slots.score(job_id)
        if score is None:
            continue
        record = state._jobs.live(job_id)
        holds = record is not None and record.get(STATUS) in (QUEUED, STARTED)
        if record is None or (not holds and (job_ids is not None or score <= now)):
            limited.slots.discard(job_id)
    admitted = fill(state, key, released_fields)
    _forget_if_unused(state, key)
    return admitted


def _forget_if_unused(state: MemoryState, key: str) -> None:
    limited = state._rate_limits.get(key)
    if limited is not None and not limited.slots and not limited.waiting:
        del state._rate_limits[key]
