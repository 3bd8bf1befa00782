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
from jq.broker.rules.places import KNOWN_QUEUES, queue_of, queue_pop, remove_all
from jq.broker.rules.slots import after_move
from jq.broker.rules.workers import apply_update, check_updates
from jq.broker.store import Collection, RecordKind, StoreTransaction
from jq.broker.types import (
    EXECUTION,
    STATUS,
    Claimed,
    ClaimFields,
    ClaimLease,
    Place,
    PlaceKind,
    Record,
    WorkerUpdate,
    claim_fields_now,
    claim_lease_now,
)

__all__ = ["StoreClaims", "take"]


def take(
    tx: StoreTransaction,
    queues: Sequence[str],
    fields: Mapping[str, bytes],
    lease_until: float,
    worker: WorkerUpdate | None = None,
) -> Claimed | None:
    """The claiming step inside a block (``worker`` checked already): pop ids off the first
    non-empty queue until one is claimable, start it, and update the worker."""
    for queue in queues:
        while (job_id := queue_pop(tx, queue)) is not None:
            record = tx.read(RecordKind.JOB, job_id)
            if record is None:  # expired or deleted
                continue
            prior_status = record.get(STATUS)
            # Known and not queued: the job lives elsewhere (canceled, claimed already). A
            # missing or unknown status is a corrupt record, claimed so the worker fails it.
            if prior_status != QUEUED and prior_status in PLACE_OF_STATUS:
                continue
            _start(tx, job_id, queue, record, fields, lease_until)
            if worker is not None:
                apply_update(tx, worker, current_job=job_id)
            return Claimed(job_id, queue, record, prior_status)
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
    ) -> Claimed | None:
        """Take the first claimable job of the first queue that has one, waiting up to ``wait``
        seconds (of real time) for one, and update ``worker``'s record with it."""
        if wait is None or wait <= 0:
            return self._attempt(queues, fields, lease_until, worker)
        deadline = time.monotonic() + wait
        # Opened before the first attempt: a push that commits after it fails still wakes us.
        watch = self.store.watch_queues()
        try:
            while (claimed := self._attempt(queues, fields, lease_until, worker)) is None:
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
    ) -> Claimed | None:
        # The fields and lease are made just before each attempt (times in them are the claim's),
        # outside the block: a function given may call anything.
        made, lease = claim_fields_now(fields), claim_lease_now(lease_until)
        with self.store.atomic() as tx:
            check_updates(tx, [worker])
            return take(tx, queues, made, lease, worker)

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
            ids = remove_all(tx, queue_of(queue))
            self._delete_all(tx, ids)
            return len(ids)

    def delete_queue(self, queue: str, delete_jobs: bool) -> None:
        """Drop the queue's ids (and with ``delete_jobs`` their jobs) and its known name;
        registries stay."""
        with self.store.atomic() as tx:
            ids = remove_all(tx, queue_of(queue))
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
