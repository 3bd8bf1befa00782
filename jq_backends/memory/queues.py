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
    SCHEDULED_AT,
    STATUS,
    Claimed,
    ClaimFields,
    ClaimLease,
    EnqueueOutcome,
    EnqueueRequest,
    PlaceKind,
    QueueStore,
    Record,
    RefusalReason,
    WorkerUpdate,
    claim_fields_now,
    claim_lease_now,
)
from jq.defaults import DEFAULT_FAILURE_TTL
from jq_backends.fields import FAILURE_TTL, PLACE_OF_STATUS, failure_ttl, scheduled_field
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
from jq_backends.memory._tables import JobTable, redis_range

__all__ = ["MemoryQueues"]


class MemoryQueues(MemoryState, QueueStore):
    """Enqueue, claim, leases and queue reads in memory; each method one critical section."""

    def enqueue(self, request: EnqueueRequest) -> EnqueueOutcome:
        """Store and place one job, following :meth:`jq.broker.Broker.enqueue`'s steps."""
        with self._cond:
            refusal = self._refusal(request, _Batch(self._jobs, self._markers))
            return refusal if refusal is not None else self._write(request)

    def enqueue_many(self, requests: Sequence[EnqueueRequest]) -> list[EnqueueOutcome]:
        """Every request checked, in order, as the earlier ones would leave the store; then every
        one written, or none: the whole batch is one critical section."""
        with self._cond:
            batch = _Batch(self._jobs, self._markers)
            refusals: list[EnqueueOutcome | None] = []
            for request in requests:
                refusal = self._refusal(request, batch)
                if refusal is None:
                    status, unmet = self._placement(request, batch)
                    batch.note(request, status, unmet)
                refusals.append(refusal)
            if any(refusal is not None for refusal in refusals):
                return [refusal or EnqueueOutcome(None, reason=RefusalReason.BATCH) for refusal in refusals]
            return [self._write(request) for request in requests]

    def _write(self, request: EnqueueRequest) -> EnqueueOutcome:
        """Steps 2 to 7 of an enqueue whose refusals were checked (the condition held)."""
        job_id = request.job_id
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

        status, unmet = self._placement(request, _Batch(self._jobs, self._markers))
        record = self._jobs.put(job_id, request.fields)
        if request.scheduled_at is not None:
            record[SCHEDULED_AT] = scheduled_field(request.scheduled_at)
        self._jobs.expire_in(job_id, request.record_ttl)
        if status == CANCELED:
            record[STATUS] = CANCELED
            self._keep_canceled(job_id, request.queue, _canceled_ttl(request), self._clock())
            return EnqueueOutcome(CANCELED.decode())
        if status == DEFERRED:
            self._registry(PlaceKind.DEFERRED, request.queue).add(job_id, self._clock())
            self._jobs.set_unmet(job_id, unmet)
        elif status == SCHEDULED:
            assert request.scheduled_at is not None
            self._registry(PlaceKind.SCHEDULED, request.queue).add(job_id, request.scheduled_at)
        else:
            self._push(request.queue, job_id, at_front=request.at_front)
        record[STATUS] = status
        return EnqueueOutcome(status.decode())

    @staticmethod
    def _placement(request: EnqueueRequest, batch: _Batch) -> tuple[bytes, list[str]]:
        """The status the request's job gets (steps 4 to 7) and its unmet dependencies."""
        unmet: list[str] = []
        for dep in dict.fromkeys(request.depends_on):
            status = batch.status(dep)
            if status == FINISHED or (request.allow_failure and status in ENDED_BADLY):
                continue
            if status in ENDED_BADLY:
                return CANCELED, []
            unmet.append(dep)
        if unmet:
            return DEFERRED, unmet
        return (QUEUED if request.scheduled_at is None else SCHEDULED), []

    @staticmethod
    def _refusal(request: EnqueueRequest, batch: _Batch) -> EnqueueOutcome | None:
        """Why the request must write nothing (checked in the contract's order), or None."""
        depends_on = list(dict.fromkeys(request.depends_on))
        missing = tuple(dep for dep in depends_on if not batch.exists(dep))
        if missing:
            return EnqueueOutcome(None, missing, RefusalReason.MISSING)
        if request.unique and batch.exists(request.job_id):
            return EnqueueOutcome(None, reason=RefusalReason.DUPLICATE)
        if request.once is not None:
            name, value = request.once
            marker = batch.marker(name)
            if marker is not None and marker >= value:
                return EnqueueOutcome(None, reason=RefusalReason.ALREADY)
        if batch.reaches(depends_on, request.job_id):
            return EnqueueOutcome(None, reason=RefusalReason.CYCLE)
        return None

    def claim(
        self,
        queues: Sequence[str],
        fields: ClaimFields,
        lease_until: ClaimLease,
        wait: float | None = None,
        *,
        worker: WorkerUpdate | None = None,
    ) -> Claimed | None:
        """Take the first claimable job of the first queue that has one, waiting up to ``wait``,
        and update ``worker``'s record with it."""
        with self._cond:
            self._workers.check_updates([worker])
            claimed = self._take(queues, claim_fields_now(fields), claim_lease_now(lease_until), worker)
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
                claimed = self._take(queues, claim_fields_now(fields), claim_lease_now(lease_until), worker)
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


def _canceled_ttl(request: EnqueueRequest) -> int:
    """How long a job canceled at enqueue is kept (0: not at all)."""
    return failure_ttl(request.fields.get(FAILURE_TTL), DEFAULT_FAILURE_TTL)


class _Batch:
    """The store as the checks of an enqueue see it: as it is, plus what the earlier requests of
    the same batch will write (:meth:`note`), which the checks of the later ones must count."""

    __slots__ = ("_jobs", "_markers", "_new_markers", "_statuses", "_unmet")

    def __init__(self, jobs: JobTable, markers: Mapping[str, float]) -> None:
        self._jobs = jobs
        self._markers = markers
        # Per id an earlier request writes: its status, or None when it is not kept at all.
        self._statuses: dict[str, bytes | None] = {}
        self._unmet: dict[str, list[str]] = {}
        self._new_markers: dict[str, float] = {}

    def note(self, request: EnqueueRequest, status: bytes, unmet: Sequence[str]) -> None:
        """Count what ``request`` will write: its job with ``status`` and ``unmet``, its marker."""
        kept = status != CANCELED or _canceled_ttl(request) != 0
        self._statuses[request.job_id] = status if kept else None
        self._unmet[request.job_id] = list(unmet)
        if request.once is not None:
            self._new_markers[request.once[0]] = request.once[1]

    def exists(self, job_id: str) -> bool:
        """Whether the job has a record."""
        if job_id in self._statuses:
            return self._statuses[job_id] is not None
        return self._jobs.live(job_id) is not None

    def status(self, job_id: str) -> bytes | None:
        """The job's status (None without a record or a status)."""
        if job_id in self._statuses:
            return self._statuses[job_id]
        record = self._jobs.live(job_id)
        return None if record is None else record.get(STATUS)

    def marker(self, name: str) -> float | None:
        """The marker's value, or None when it is unset."""
        if name in self._new_markers:
            return self._new_markers[name]
        return self._markers.get(name)

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
                continue
            # Purges an expired record with its sets first, as Redis expires them together.
            self._jobs.live(job_id)
            pending.extend(self._jobs.unmet(job_id) or ())
        return False
