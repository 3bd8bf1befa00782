"""Claims and queue reads: the rest of :class:`jq.broker.QueueStore` on a store.

A claim is one atomic block per attempt. A claim that may wait opens the store's queue watch
*before* its first attempt, so that a push committed between an attempt and the wait still wakes
it; it then sleeps on the watch (no polling where the store allows) and tries again until a job
is taken or the time is up.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence

from jq.broker.contract import QueueStore
from jq.broker.rules._base import StoreRules
from jq.broker.rules.fields import PLACE_OF_STATUS, QUEUED, STARTED, limit_of
from jq.broker.rules.places import KNOWN_QUEUES, queue_of, queue_pop, remove_all, reserved_of
from jq.broker.rules.slots import after_move, to_queue
from jq.broker.rules.workers import apply_update, check_updates
from jq.broker.store import Collection, RecordKind, StoreTransaction
from jq.broker.types import (
    EXECUTION,
    RESERVATION_STEP,
    STATUS,
    Claimed,
    ClaimFields,
    ClaimLease,
    Place,
    PlaceKind,
    Record,
    Reservation,
    WorkerUpdate,
    claim_fields_now,
    claim_lease_now,
)

__all__ = ["StoreClaims", "give_back_all", "reserve_in", "take"]


def take(
    tx: StoreTransaction,
    queues: Sequence[str],
    fields: Mapping[str, bytes],
    lease_until: float,
    worker: WorkerUpdate | None = None,
    reserved: Sequence[Reservation] = (),
    reserve: Sequence[str] = (),
    *,
    now: float,
) -> Claimed | None:
    """The claiming step inside a block (``worker`` checked already): the caller's first
    reservation still held of the first queue that has one, else pop ids off the first non-empty
    queue until one is claimable; start it, and update the worker (see
    :meth:`jq.broker.QueueStore.claim` for ``reserved`` and ``reserve``)."""
    for queue in queues:
        for position, reservation in enumerate(reserved, start=1):
            if reservation.queue == queue and (record := _held(tx, reservation)) is not None:
                tx.remove(reserved_of(queue), reservation.job_id)
                _start(tx, reservation.job_id, queue, record, fields, lease_until)
                if worker is not None:
                    apply_update(tx, worker, current_job=reservation.job_id)
                return Claimed(reservation.job_id, queue, record, QUEUED, from_reserved=position)
        while (job_id := queue_pop(tx, queue)) is not None:
            record = tx.read(RecordKind.JOB, job_id)
            if record is None:  # expired or deleted
                continue
            prior_status = record.get(STATUS)
            # Known and not queued: the job lives elsewhere (canceled, claimed already). A
            # missing or unknown status is a corrupt record, claimed so the worker fails it.
            if prior_status != QUEUED and prior_status in PLACE_OF_STATUS:
                continue
            give_back_all(tx, reserved, now)
            _start(tx, job_id, queue, record, fields, lease_until)
            if worker is not None:
                apply_update(tx, worker, current_job=job_id)
            more = reserve_in(tx, [queue], reserve, lease_until, deep_only=True) if reserve else []
            return Claimed(job_id, queue, record, prior_status, reservations=tuple(more))
    give_back_all(tx, reserved, now)
    return None


def _start(
    tx: StoreTransaction,
    job_id: str,
    queue: str,
    record: Record,
    fields: Mapping[str, bytes],
    lease_until: float,
) -> None:
    """Make the job started under a lease: fields, status (last), no expiry, started registry."""
    record.update(fields)
    record[STATUS] = STARTED
    tx.write(RecordKind.JOB, job_id, record, replace=True)
    tx.expire(RecordKind.JOB, job_id, None)  # a started job never expires
    tx.add(Collection.of(Place(PlaceKind.STARTED, queue)), job_id, lease_until)


def _held(tx: StoreTransaction, reservation: Reservation) -> Record | None:
    """The record of a job the reservation still holds (in its queue's reserved registry, its
    execution id in the record, status queued), else None; an entry whose record is gone leaves
    the registry."""
    registry = reserved_of(reservation.queue)
    if tx.score(registry, reservation.job_id) is None:
        return None
    record = tx.read(RecordKind.JOB, reservation.job_id)
    if record is None:
        tx.remove(registry, reservation.job_id)
        return None
    if record.get(EXECUTION) != reservation.execution_id.encode() or record.get(STATUS) != QUEUED:
        return None
    return record


def give_back_all(tx: StoreTransaction, reserved: Sequence[Reservation], now: float) -> None:
    """Every reservation still held goes back to the front of its queue, in order (the last
    one first), without its execution id; ``now`` is the store's clock."""
    for reservation in reversed(reserved):
        record = _held(tx, reservation)
        if record is None:
            continue
        tx.remove(reserved_of(reservation.queue), reservation.job_id)
        del record[EXECUTION]
        record[STATUS] = to_queue(tx, reservation.job_id, record, reservation.queue, at_front=True, now=now)
        tx.write(RecordKind.JOB, reservation.job_id, record, replace=True)


def reserve_in(
    tx: StoreTransaction,
    queues: Sequence[str],
    execution_ids: Sequence[str],
    lease_until: float,
    *,
    deep_only: bool = False,
) -> list[Reservation]:
    """The reserving step of :meth:`jq.broker.QueueStore.reserve` inside a block; with
    ``deep_only``, nothing unless the first queue holds at least as many ids as asked for."""
    made: list[Reservation] = []
    if deep_only and queues and tx.count(queue_of(queues[0])) < len(execution_ids):
        return made
    for queue in queues:
        ids = queue_of(queue)
        while len(made) < len(execution_ids) and (first := tx.members(ids, 0, 0)):
            job_id = first[0]
            record = tx.read(RecordKind.JOB, job_id)
            status = None if record is None else record.get(STATUS)
            if record is not None and status != QUEUED and status not in PLACE_OF_STATUS:
                return made  # corrupt: left at the front, for a claim to take and fail
            tx.remove(ids, job_id)
            if record is None or status != QUEUED:
                continue  # gone, or it lives elsewhere: dropped as a claim drops it
            execution = execution_ids[len(made)]
            tx.write(RecordKind.JOB, job_id, {EXECUTION: execution.encode()})
            tx.add(reserved_of(queue), job_id, lease_until + len(made) * RESERVATION_STEP)
            made.append(Reservation(job_id, queue, execution))
    return made


class StoreClaims(StoreRules, QueueStore):
    """Claims, leases and queue reads; each state change one atomic block."""

    def claim(
        self,
        queues: Sequence[str],
        fields: ClaimFields,
        lease_until: ClaimLease,
        wait: float | None = None,
        *,
        worker: WorkerUpdate | None = None,
        reserved: Sequence[Reservation] = (),
        reserve: Sequence[str] = (),
    ) -> Claimed | None:
        """Take the first claimable job of the first queue that has one (a reservation first),
        waiting up to ``wait`` seconds (of real time) for one, and update ``worker``'s record with
        it; reserve more with ``reserve``."""
        if wait is None or wait <= 0:
            return self._attempt(queues, fields, lease_until, worker, reserved, reserve)
        deadline = time.monotonic() + wait
        # Opened before the first attempt: a push that commits after it fails still wakes us.
        watch = self.store.watch_queues()
        try:
            # Reservations are over after the first attempt (claimed, or all given back).
            while (claimed := self._attempt(queues, fields, lease_until, worker, reserved, reserve)) is None:
                reserved = ()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                watch.wait(remaining)
            return claimed
        finally:
            watch.close()

    def _attempt(
        self,
        queues: Sequence[str],
        fields: ClaimFields,
        lease_until: ClaimLease,
        worker: WorkerUpdate | None,
        reserved: Sequence[Reservation] = (),
        reserve: Sequence[str] = (),
    ) -> Claimed | None:
        # The fields and lease are made just before each attempt (times in them are the claim's),
        # outside the block: a function given may call anything.
        made, lease = claim_fields_now(fields), claim_lease_now(lease_until)
        with self.store.atomic() as tx:
            check_updates(tx, [worker])
            return take(tx, queues, made, lease, worker, reserved, reserve, now=self.store.now())

    def reserve(
        self, queues: Sequence[str], execution_ids: Sequence[str], lease_until: float
    ) -> list[Reservation]:
        """Reserve up to ``len(execution_ids)`` jobs from the queues in order, not started."""
        if not execution_ids:
            return []
        with self.store.atomic() as tx:
            return reserve_in(tx, queues, execution_ids, lease_until)

    def claim_job(
        self, job_id: str, queue: str, fields: Mapping[str, bytes], lease_until: float
    ) -> Record | None:
        """Claim this queued job; None (nothing written) when it has no record or is not queued."""
        with self.store.atomic() as tx:
            record = tx.read(RecordKind.JOB, job_id)
            if record is None or record.get(STATUS) != QUEUED:
                return None
            tx.remove(queue_of(queue), job_id)
            _start(tx, job_id, queue, record, fields, lease_until)
            return record

    def extend_lease(self, queue: str, job_id: str, execution_id: str, lease_until: float) -> bool:
        """Move the lease of a started job of this execution; False (nothing written) otherwise."""
        started = Collection.of(Place(PlaceKind.STARTED, queue))
        with self.store.atomic() as tx:
            if tx.score(started, job_id) is None:
                return False
            record = tx.read(RecordKind.JOB, job_id)
            if record is None or record.get(EXECUTION) != execution_id.encode():
                return False
            tx.add(started, job_id, lease_until)
            return True

    def queue_length(self, queue: str) -> int:
        """How many ids the queue holds."""
        with self.store.atomic() as tx:
            return tx.count(queue_of(queue))

    def queue_job_ids(self, queue: str, start: int = 0, end: int = -1) -> list[str]:
        """Ids in queue order from ``start`` to ``end`` inclusive."""
        with self.store.atomic() as tx:
            return tx.members(queue_of(queue), start, end)

    def queue_position(self, queue: str, job_id: str) -> int | None:
        """The 0-based position of the id in the queue, or None."""
        ids = queue_of(queue)
        with self.store.atomic() as tx:
            score = tx.score(ids, job_id)
            # Positions are distinct scores: the id's rank is how many are at or before it.
            return None if score is None else len(tx.members(ids, max_score=score)) - 1

    def queue_names(self) -> list[str]:
        """Known queue names, sorted."""
        with self.store.atomic() as tx:
            return tx.members(KNOWN_QUEUES)  # one score for all: sorted by name

    def empty_queue(self, queue: str) -> int:
        """Remove every id (the queue stays known) and delete those jobs; the number of ids."""
        with self.store.atomic() as tx:
            # A reserved job is still in its queue (see jq.broker.Reservation).
            ids = remove_all(tx, queue_of(queue)) + remove_all(tx, reserved_of(queue))
            self._delete_all(tx, ids)
            return len(ids)

    def delete_queue(self, queue: str, delete_jobs: bool) -> None:
        """Drop the queue's ids (and with ``delete_jobs`` their jobs) and its known name;
        registries stay."""
        with self.store.atomic() as tx:
            ids = remove_all(tx, queue_of(queue)) + remove_all(tx, reserved_of(queue))
            tx.remove(KNOWN_QUEUES, queue)
            if delete_jobs:
                self._delete_all(tx, ids)

    def _delete_all(self, tx: StoreTransaction, job_ids: Iterable[str]) -> None:
        """Delete these jobs' records; a queued job holding a rate-limit slot frees it."""
        now = self.store.now()
        for job_id in job_ids:
            record = tx.read(RecordKind.JOB, job_id)
            tx.delete(RecordKind.JOB, job_id)
            if record is not None:
                after_move(tx, job_id, limit_of(record), record.get(STATUS), None, {}, now)
