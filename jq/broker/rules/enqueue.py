"""Enqueueing: :meth:`jq.broker.QueueStore.enqueue` and ``enqueue_many`` on a store, following
the contract's seven steps (refusals first, then every write, in one atomic block)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from jq.broker.contract import QueueStore
from jq.broker.rules._base import StoreRules
from jq.broker.rules.control import MARKER_VALUE, read_marker
from jq.broker.rules.dependents import leave_dependencies, set_unmet, unmet
from jq.broker.rules.fields import (
    DEFERRED,
    FAILED,
    FINISHED,
    QUEUED,
    SCHEDULED,
    STARTED,
    limit_of,
    scheduled_field,
)
from jq.broker.rules.groups import join_group
from jq.broker.rules.places import KNOWN_QUEUES, take_out
from jq.broker.rules.records import deadline_of
from jq.broker.rules.slots import after_move, to_queue
from jq.broker.store import Collection, RecordKind, StoreTransaction
from jq.broker.types import (
    ORIGIN,
    SCHEDULED_AT,
    STATUS,
    EnqueueOutcome,
    EnqueueRequest,
    Place,
    PlaceKind,
    RefusalReason,
)

__all__ = ["StoreEnqueue"]


class StoreEnqueue(StoreRules, QueueStore):
    """Enqueue and enqueue_many; each call one atomic block that refuses before writing."""

    def enqueue(self, request: EnqueueRequest) -> EnqueueOutcome:
        """Store and place one job, following :meth:`jq.broker.Broker.enqueue`'s steps."""
        with self.store.atomic() as tx:
            refusal = _refusal(request, _Batch(tx))
            return refusal if refusal is not None else self._write(tx, request, Counter())

    def enqueue_many(self, requests: Sequence[EnqueueRequest]) -> list[EnqueueOutcome]:
        """Every request checked, in order, as the batch will leave the store; then every one
        written, or none: the whole batch is one atomic block."""
        with self.store.atomic() as tx:
            batch = _Batch(tx, Counter(request.job_id for request in requests))
            refusals: list[EnqueueOutcome | None] = []
            for request in requests:
                batch.arrive(request.job_id)
                refusal = _refusal(request, batch)
                if refusal is None:
                    status, waits_for = _placement(request, batch)
                    batch.note(request, status, waits_for)
                refusals.append(refusal)
            if any(refusal is not None for refusal in refusals):
                return [refusal or EnqueueOutcome(None, reason=RefusalReason.BATCH) for refusal in refusals]
            # How many of the requests still to write enqueue each id: counted down as they are
            # written (one counter for the batch, not one list of later ids per request).
            upcoming = Counter(request.job_id for request in requests)
            outcomes: list[EnqueueOutcome] = []
            for request in requests:
                upcoming[request.job_id] -= 1
                outcomes.append(self._write(tx, request, upcoming))
            return outcomes

    def _write(self, tx: StoreTransaction, request: EnqueueRequest, upcoming: Counter[str]) -> EnqueueOutcome:
        """Steps 2 to 7 of an enqueue whose refusals were checked. ``upcoming``: how many later
        requests of the same batch enqueue each id (they count as unmet dependencies)."""
        now = self.store.now()
        job_id = request.job_id
        if request.once is not None:
            name, value = request.once
            tx.write(RecordKind.MARKER, name, {MARKER_VALUE: repr(float(value)).encode()}, replace=True)
        old = tx.read(RecordKind.JOB, job_id)
        if old is not None:
            # The replaced job leaves its place, its rate limit's line, and its slot (if it ran,
            # the execution keeps it until its lease: its code may still be running).
            old_status = old.get(STATUS)
            started = Place(PlaceKind.STARTED, old.get(ORIGIN, b"").decode())
            lease = tx.score(Collection.of(started), job_id) if old_status == STARTED else None
            take_out(tx, job_id, old)
            after_move(tx, job_id, limit_of(old), old_status, None, {}, now, lease)
        # The replaced job no longer waits for its own dependencies: this request names the new
        # ones. Its dependents are kept; they now wait for the new job.
        leave_dependencies(tx, job_id)
        tx.add(KNOWN_QUEUES, request.queue, 0.0)
        if request.group is not None:
            join_group(tx, request.group, [job_id])

        status, waits_for = _placement(request, _Batch(tx, upcoming))
        record = dict(request.fields)
        if request.scheduled_at is not None:
            record[SCHEDULED_AT] = scheduled_field(request.scheduled_at)
        if status == DEFERRED:
            tx.add(Collection.of(Place(PlaceKind.DEFERRED, request.queue)), job_id, now)
        elif status == SCHEDULED:
            assert request.scheduled_at is not None
            tx.add(Collection.of(Place(PlaceKind.SCHEDULED, request.queue)), job_id, request.scheduled_at)
        else:
            status = to_queue(tx, job_id, record, request.queue, at_front=request.at_front, now=now)
        record[STATUS] = status  # last: a field of the request never overrides it
        # The record is written before its dependency set: the set belongs to it.
        tx.write(RecordKind.JOB, job_id, record, replace=True)
        tx.expire(RecordKind.JOB, job_id, deadline_of(now, request.record_ttl))
        if status == DEFERRED:
            set_unmet(tx, job_id, waits_for)
        return EnqueueOutcome(status.decode())


def _placement(request: EnqueueRequest, batch: _Batch) -> tuple[bytes, list[str]]:
    """The status the request's job gets (steps 4 to 7) and its unmet dependencies."""
    waits_for: list[str] = []
    for dep in dict.fromkeys(request.depends_on):
        status = batch.status(dep)
        if status is None:
            continue  # no record: met, as in RQ
        if status == FINISHED or (request.allow_failure and status == FAILED):
            continue
        waits_for.append(dep)
    if waits_for:
        return DEFERRED, waits_for
    return (QUEUED if request.scheduled_at is None else SCHEDULED), []


def _refusal(request: EnqueueRequest, batch: _Batch) -> EnqueueOutcome | None:
    """Why the request must write nothing (checked in the contract's order), or None."""
    if request.unique and batch.status(request.job_id) is not None:
        return EnqueueOutcome(None, reason=RefusalReason.DUPLICATE)
    if request.once is not None:
        name, value = request.once
        marker = batch.marker(name)
        if marker is not None and marker >= value:
            return EnqueueOutcome(None, reason=RefusalReason.ALREADY)
    if batch.reaches(list(dict.fromkeys(request.depends_on)), request.job_id):
        return EnqueueOutcome(None, reason=RefusalReason.CYCLE)
    return None


#: What :meth:`_Batch.status` answers for a job that has a record but no status field.
_NO_STATUS = b""


class _Batch:
    """The store as the checks of an enqueue see it: as it is, plus what the requests of the same
    batch will write: the earlier ones as :meth:`note` says, the later ones (``upcoming``) as
    jobs that exist and have not ended."""

    __slots__ = ("_new_markers", "_statuses", "_tx", "_unmet", "_upcoming")

    def __init__(self, tx: StoreTransaction, upcoming: Counter[str] | None = None) -> None:
        self._tx = tx
        # Per id an earlier request writes: its status and unmet dependencies.
        self._statuses: dict[str, bytes] = {}
        self._unmet: dict[str, list[str]] = {}
        self._new_markers: dict[str, float] = {}
        # How many requests still to come enqueue each id.
        self._upcoming: Counter[str] = Counter() if upcoming is None else upcoming

    def arrive(self, job_id: str) -> None:
        """The request for ``job_id`` is checked now: it is no longer one to come."""
        self._upcoming[job_id] -= 1

    def note(self, request: EnqueueRequest, status: bytes, waits_for: Sequence[str]) -> None:
        """Count what ``request`` will write: its job with ``status`` and ``waits_for``, its
        marker."""
        self._statuses[request.job_id] = status
        self._unmet[request.job_id] = list(waits_for)
        if request.once is not None:
            self._new_markers[request.once[0]] = request.once[1]

    def status(self, job_id: str) -> bytes | None:
        """The job's status; None when it has no record (and no request of the batch gives it
        one); empty for a record without a status; ``queued`` for one a later request of the
        batch enqueues (it has not ended)."""
        if job_id in self._statuses:
            return self._statuses[job_id]
        if self._upcoming[job_id] > 0:
            return QUEUED
        record = self._tx.read(RecordKind.JOB, job_id)
        return None if record is None else record.get(STATUS, _NO_STATUS)

    def marker(self, name: str) -> float | None:
        """The marker's value, or None when it is unset."""
        if name in self._new_markers:
            return self._new_markers[name]
        return read_marker(self._tx, name)

    def reaches(self, starts: Sequence[str], target: str) -> bool:
        """Whether following sets of unmet dependencies from ``starts`` leads to ``target``."""
        seen: set[str] = set()
        pending = list(starts)
        while pending:
            job_id = pending.pop()
            if job_id == target:
                return True
            if job_id in seen:
                continue
            seen.add(job_id)
            if job_id in self._unmet:
                pending.extend(self._unmet[job_id])
            else:
                pending.extend(unmet(self._tx, job_id))
        return False
