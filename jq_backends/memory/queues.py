"""The memory driver's queues: :class:`jq.broker.QueueStore` over deques of ids.

A blocked :meth:`MemoryQueues.claim` sleeps on the store's one condition, which every push onto
any queue notifies.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence

from jq.broker import (
    EXECUTION,
    ORIGIN,
    SCHEDULED_AT,
    STATUS,
    Claimed,
    ClaimFields,
    ClaimLease,
    EnqueueOutcome,
    EnqueueRequest,
    Place,
    PlaceKind,
    QueueStore,
    Record,
    RefusalReason,
    WorkerUpdate,
    claim_fields_now,
    claim_lease_now,
)
from jq_backends.fields import PLACE_OF_STATUS, scheduled_field
from jq_backends.memory import _slots
from jq_backends.memory._base import (
    DEFERRED,
    FAILED,
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
            return refusal if refusal is not None else self._write(request, ())

    def enqueue_many(self, requests: Sequence[EnqueueRequest]) -> list[EnqueueOutcome]:
        """Every request checked, in order, as the batch will leave the store; then every one
        written, or none: the whole batch is one critical section."""
        with self._cond:
            batch = _Batch(self._jobs, self._markers, [request.job_id for request in requests])
            refusals: list[EnqueueOutcome | None] = []
            for request in requests:
                batch.arrive(request.job_id)
                refusal = self._refusal(request, batch)
                if refusal is None:
                    status, unmet = self._placement(request, batch)
                    batch.note(request, status, unmet)
                refusals.append(refusal)
            if any(refusal is not None for refusal in refusals):
                return [refusal or EnqueueOutcome(None, reason=RefusalReason.BATCH) for refusal in refusals]
            return [
                self._write(request, [later.job_id for later in requests[index + 1 :]])
                for index, request in enumerate(requests)
            ]

    def _write(self, request: EnqueueRequest, upcoming: Iterable[str]) -> EnqueueOutcome:
        """Steps 2 to 7 of an enqueue whose refusals were checked (the condition held).
        ``upcoming``: ids that later requests of the same batch enqueue (unmet dependencies)."""
        job_id = request.job_id
        if request.once is not None:
            name, value = request.once
            self._markers[name] = value
        old = self._jobs.live(job_id)
        if old is not None:
            # The replaced job leaves its rate limit's line, and its slot (if it ran, the
            # execution keeps it until its lease: its code may still be running).
            old_status = old.get(STATUS)
            lease = self._peek(Place(PlaceKind.STARTED, old.get(ORIGIN, b"").decode())).score(job_id)
            self._take_out(job_id, old)
            _slots.after_move(self, job_id, _slots.limit_of(old), old_status, None, {},
                              lease if old_status == STARTED else None)  # fmt: skip
        # The replaced job no longer waits for its own dependencies: this request names the new
        # ones. Its dependents are kept; they now wait for the new job.
        for parent in self._jobs.unmet(job_id) or ():
            self._jobs.drop_dependent(parent, job_id)
        self._jobs.forget_unmet(job_id)
        self._known_queues.add(request.queue)
        if request.group is not None:
            self._groups.setdefault(request.group, set()).add(job_id)

        status, unmet = self._placement(request, _Batch(self._jobs, self._markers, upcoming))
        record = self._jobs.put(job_id, request.fields)
        if request.scheduled_at is not None:
            record[SCHEDULED_AT] = scheduled_field(request.scheduled_at)
        self._jobs.expire_in(job_id, request.record_ttl)
        if status == DEFERRED:
            self._registry(PlaceKind.DEFERRED, request.queue).add(job_id, self._clock())
            self._jobs.set_unmet(job_id, unmet)
        elif status == SCHEDULED:
            assert request.scheduled_at is not None
            self._registry(PlaceKind.SCHEDULED, request.queue).add(job_id, request.scheduled_at)
        else:
            status = _slots.to_queue(self, job_id, record, request.queue, at_front=request.at_front)
        record[STATUS] = status
        return EnqueueOutcome(status.decode())

    @staticmethod
    def _placement(request: EnqueueRequest, batch: _Batch) -> tuple[bytes, list[str]]:
        """The status the request's job gets (steps 4 to 7) and its unmet dependencies."""
        unmet: list[str] = []
        for dep in dict.fromkeys(request.depends_on):
            if not batch.exists(dep):
                continue  # no record: met, as in RQ
            status = batch.status(dep)
            if status == FINISHED or (request.allow_failure and status == FAILED):
                continue
            unmet.append(dep)
        if unmet:
            return DEFERRED, unmet
        return (QUEUED if request.scheduled_at is None else SCHEDULED), []

    @staticmethod
    def _refusal(request: EnqueueRequest, batch: _Batch) -> EnqueueOutcome | None:
        """Why the request must write nothing (checked in the contract's order), or None."""
        if request.unique and batch.exists(request.job_id):
            return EnqueueOutcome(None, reason=RefusalReason.DUPLICATE)
        if request.once is not None:
            name, value = request.once
            marker = batch.marker(name)
            if marker is not None and marker >= value:
                return EnqueueOutcome(None, reason=RefusalReason.ALREADY)
        if batch.reaches(list(dict.fromkeys(request.depends_on)), request.job_id):
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
            self._purge_all(ids)
            return len(ids)

    def delete_queue(self, queue: str, delete_jobs: bool) -> None:
        """Drop the queue's ids (and jobs) and its known name; registries stay."""
        with self._cond:
            ids = self._queues.pop(queue, deque())
            self._known_queues.discard(queue)
            if delete_jobs:
                self._purge_all(ids)

    def _purge_all(self, job_ids: Iterable[str]) -> None:
        """Delete these jobs' records; a queued job holding a rate-limit slot frees it."""
        for job_id in job_ids:
            record = self._jobs.live(job_id)
            self._jobs.purge(job_id)
            if record is not None:
                limit = _slots.limit_of(record)
                _slots.after_move(self, job_id, limit, record.get(STATUS), None, {})


class _Batch:
    """The store as the checks of an enqueue see it: as it is, plus what the requests of the same
    batch will write: the earlier ones as :meth:`note` says, the later ones (``upcoming``) as
    jobs that exist and have not ended."""

    __slots__ = ("_jobs", "_markers", "_new_markers", "_statuses", "_unmet", "_upcoming")

    def __init__(self, jobs: JobTable, markers: Mapping[str, float], upcoming: Iterable[str] = ()) -> None:
        self._jobs = jobs
        self._markers = markers
        # Per id an earlier request writes: its status.
        self._statuses: dict[str, bytes] = {}
        self._unmet: dict[str, list[str]] = {}
        self._new_markers: dict[str, float] = {}
        # How many requests still to come enqueue each id.
        self._upcoming = Counter(upcoming)

    def arrive(self, job_id: str) -> None:
        """The request for ``job_id`` is checked now: it is no longer one to come."""
        self._upcoming[job_id] -= 1

    def note(self, request: EnqueueRequest, status: bytes, unmet: Sequence[str]) -> None:
        """Count what ``request`` will write: its job with ``status`` and ``unmet``, its marker."""
        self._statuses[request.job_id] = status
        self._unmet[request.job_id] = list(unmet)
        if request.once is not None:
            self._new_markers[request.once[0]] = request.once[1]

    def exists(self, job_id: str) -> bool:
        """Whether the job has a record (or a request of the batch gives it one)."""
        if job_id in self._statuses or self._upcoming[job_id] > 0:
            return True
        return self._jobs.live(job_id) is not None

    def status(self, job_id: str) -> bytes | None:
        """The job's status (None without a record or a status; ``queued`` for one a later
        request of the batch enqueues: it has not ended)."""
        if job_id in self._statuses:
            return self._statuses[job_id]
        if self._upcoming[job_id] > 0:
            return QUEUED
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
