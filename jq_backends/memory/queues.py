"""The memory driver's queues: :class:`jq.broker.QueueStore` over deques of ids.

A blocked :meth:`MemoryQueues.claim` sleeps on the store's one condition, which every push onto
any queue notifies.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping, Sequence

from jq.broker import (
    EXECUTION,
    STATUS,
    Claimed,
    ClaimFields,
    EnqueueOutcome,
    EnqueueRequest,
    PlaceKind,
    QueueStore,
    Record,
    RefusalReason,
    WorkerUpdate,
    claim_fields_now,
)
from jq.defaults import DEFAULT_FAILURE_TTL
from jq_backends.fields import FAILURE_TTL, PENDING_STATUSES, PLACE_OF_STATUS, failure_ttl
from jq_backends.memory._base import (
    CANCELED,
    DEFERRED,
    ENDED_BADLY,
    FINISHED,
    QUEUED,
    SCHEDULED,
    STARTED,
    MemoryState,
)
from jq_backends.memory._tables import redis_range

__all__ = ["MemoryQueues"]


class MemoryQueues(MemoryState, QueueStore):
    """Enqueue, claim, leases and queue reads in memory; each method one critical section."""

    def enqueue(self, request: EnqueueRequest) -> EnqueueOutcome:
        """Store and place one job, following :meth:`jq.broker.Broker.enqueue`'s steps."""
        with self._cond:
            return self._enqueue(request)

    def enqueue_many(self, requests: Sequence[EnqueueRequest]) -> list[EnqueueOutcome]:
        """Every request in order, the whole batch as one critical section."""
        with self._cond:
            return [self._enqueue(request) for request in requests]

    def _enqueue(self, request: EnqueueRequest) -> EnqueueOutcome:
        job_id = request.job_id
        depends_on = list(dict.fromkeys(request.depends_on))
        refusal = self._refusal(request, depends_on)
        if refusal is not None:
            return refusal
        if request.once is not None:
            name, value = request.once
            self._markers[name] = value
        old = self._jobs.live(job_id)
        if old is not None:
            self._take_out(job_id, old)
        # The replaced job no longer waits for its own dependencies: this request names the new
        # ones. Its dependents are kept; they now wait for the new job.
        for parent in self._jobs.unmet(job_id) or ():
            self._jobs.drop_dependent(parent, job_id)
        self._jobs.forget_unmet(job_id)
        self._known_queues.add(request.queue)

        unmet: list[str] = []
        blocked = False
        for dep in depends_on:
            dep_record = self._jobs.live(dep)
            status = dep_record.get(STATUS) if dep_record is not None else None
            if status == FINISHED or (request.allow_failure and status in ENDED_BADLY):
                continue
            blocked = blocked or status in ENDED_BADLY
            unmet.append(dep)

        record = self._jobs.put(job_id, request.fields)
        self._jobs.expire_in(job_id, request.record_ttl)
        if blocked:
            record[STATUS] = CANCELED
            ttl = failure_ttl(request.fields.get(FAILURE_TTL), DEFAULT_FAILURE_TTL)
            self._keep_canceled(job_id, request.queue, ttl, self._clock())
            return EnqueueOutcome(CANCELED.decode())
        if unmet:
            status = DEFERRED
            self._registry(PlaceKind.DEFERRED, request.queue).add(job_id, self._clock())
            self._jobs.set_unmet(job_id, unmet)
        elif request.scheduled_at is not None:
            status = SCHEDULED
            self._registry(PlaceKind.SCHEDULED, request.queue).add(job_id, request.scheduled_at)
        else:
            status = QUEUED
            self._push(request.queue, job_id, at_front=request.at_front)
        record[STATUS] = status
        return EnqueueOutcome(status.decode())

    def _refusal(self, request: EnqueueRequest, depends_on: list[str]) -> EnqueueOutcome | None:
        """Why the request must write nothing (checked in the contract's order), or None."""
        missing = tuple(dep for dep in depends_on if self._jobs.live(dep) is None)
        if missing:
            return EnqueueOutcome(None, missing, RefusalReason.MISSING)
        if request.unique:
            existing = self._jobs.live(request.job_id)
            if existing is not None and existing.get(STATUS) in PENDING_STATUSES:
                return EnqueueOutcome(None, reason=RefusalReason.DUPLICATE)
        if request.once is not None:
            name, value = request.once
            marker = self._markers.get(name)
            if marker is not None and marker >= value:
                return EnqueueOutcome(None, reason=RefusalReason.ALREADY)
        if self._reaches(depends_on, request.job_id):
            return EnqueueOutcome(None, reason=RefusalReason.CYCLE)
        return None

    def _reaches(self, starts: Sequence[str], target: str) -> bool:
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
            # Purges an expired record with its sets first, as Redis expires them together.
            self._jobs.live(job_id)
            pending.extend(self._jobs.unmet(job_id) or ())
        return False

    def claim(
        self,
        queues: Sequence[str],
        fields: ClaimFields,
        lease_until: float,
        wait: float | None = None,
        *,
        worker: WorkerUpdate | None = None,
    ) -> Claimed | None:
        """Take the first claimable job of the first queue that has one, waiting up to ``wait``,
        and update ``worker``'s record with it."""
        with self._cond:
            self._workers.check_updates([worker])
            claimed = self._take(queues, claim_fields_now(fields), lease_until, worker)
            if claimed is not None or wait is None or wait <= 0:
                return claimed
            deadline = time.monotonic() + wait
            while claimed is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                # Woken by every push onto any queue; spurious wake-ups just try again.
                self._cond.wait(remaining)
                # The worker's record may have changed while this thread slept.
                self._workers.check_updates([worker])
                claimed = self._take(queues, claim_fields_now(fields), lease_until, worker)
            return claimed

    def _take(
        self,
        queues: Sequence[str],
        fields: Mapping[str, bytes],
        lease_until: float,
        worker: WorkerUpdate | None = None,
    ) -> Claimed | None:
        """The claiming step (the condition held, ``worker`` checked already)."""
        for queue in queues:
            ids = self._queues.get(queue)
            while ids:
                job_id = ids.popleft()
                record = self._jobs.live(job_id)
                if record is None:  # expired or deleted
                    continue
                prior_status = record.get(STATUS)
                # Known and not queued: the job lives elsewhere (canceled, claimed already). A
                # missing or unknown status is a corrupt record, claimed so the worker fails it.
                if prior_status != QUEUED and prior_status in PLACE_OF_STATUS:
                    continue
                self._start(job_id, queue, record, fields, lease_until)
                if worker is not None:
                    self._workers.apply_update(worker, current_job=job_id)
                return Claimed(job_id, queue, dict(record), prior_status)
        return None

    def _start(
        self, job_id: str, queue: str, record: Record, fields: Mapping[str, bytes], lease_until: float
    ) -> None:
        record.update(fields)
        record[STATUS] = STARTED
        self._jobs.expire_in(job_id, None)
        self._registry(PlaceKind.STARTED, queue).add(job_id, lease_until)

    def claim_job(
        self, job_id: str, queue: str, fields: Mapping[str, bytes], lease_until: float
    ) -> Record | None:
        """Claim this queued job; None (nothing written) when it has no record or is not queued."""
        with self._cond:
            record = self._jobs.live(job_id)
            if record is None or record.get(STATUS) != QUEUED:
                return None
            self._remove_from_queue(queue, job_id)
            self._start(job_id, queue, record, fields, lease_until)
            return dict(record)

    def extend_lease(self, queue: str, job_id: str, execution_id: str, lease_until: float) -> bool:
        """Move the lease of a started job of this execution; False otherwise."""
        with self._cond:
            started = self._registry(PlaceKind.STARTED, queue)
            record = self._jobs.live(job_id)
            if job_id not in started or record is None or record.get(EXECUTION) != execution_id.encode():
                return False
            started.add(job_id, lease_until)
            return True

    def queue_length(self, queue: str) -> int:
        """How many ids the queue holds."""
        with self._cond:
            return len(self._queues.get(queue, ()))

    def queue_job_ids(self, queue: str, start: int = 0, end: int = -1) -> list[str]:
        """Ids from ``start`` to ``end`` inclusive."""
        with self._cond:
            ids = self._queues.get(queue, deque())
            return [ids[index] for index in redis_range(len(ids), start, end)]

    def queue_position(self, queue: str, job_id: str) -> int | None:
        """The first position of the id in the queue, or None."""
        with self._cond:
            try:
                return self._queues.get(queue, deque()).index(job_id)
            except ValueError:
                return None

    def queue_names(self) -> list[str]:
        """Known queue names, sorted."""
        with self._cond:
            return sorted(self._known_queues)

    def empty_queue(self, queue: str) -> int:
        """Remove every id (the queue stays known) and delete those jobs; the number of ids."""
        with self._cond:
            ids = self._queues.pop(queue, deque())
            for job_id in ids:
                self._jobs.purge(job_id)
            return len(ids)

    def delete_queue(self, queue: str, delete_jobs: bool) -> None:
        """Drop the queue's ids (and jobs) and its known name; registries stay."""
        with self._cond:
            ids = self._queues.pop(queue, deque())
            self._known_queues.discard(queue)
            if delete_jobs:
                for job_id in ids:
                    self._jobs.purge(job_id)
