"""The memory driver: a whole jq store in one process, under one lock.

Every method runs as one critical section of a single :class:`threading.Condition` (over an
``RLock``), so every method is atomic, and a blocked :meth:`MemoryBroker.claim` sleeps on that
same condition until something puts a job id on a queue. Record and worker expiry are deadlines
from the broker's clock, checked whenever a record is looked at.

Nothing is shared with other processes (``shares_across_processes`` is False): a forked work
horse or a second machine would see an empty store, so jq refuses those set-ups with a clear error.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

from jq.broker import (
    ALLOW_FAILURE,
    ENQUEUE_AT_FRONT,
    EXECUTION,
    ORIGIN,
    PERSIST,
    STATUS,
    Broker,
    Claimed,
    DependentsPolicy,
    EnqueueOutcome,
    EnqueueRequest,
    Place,
    PlaceKind,
    Record,
    Transition,
)
from jq_backends.keys import DEFAULT_PREFIX, KeyNames, KeySpace
from jq_backends.memory._tables import JobTable, ScoredSet, WorkerTable, redis_range

__all__ = ["MemoryBroker"]

QUEUED = b"queued"
STARTED = b"started"
FINISHED = b"finished"
DEFERRED = b"deferred"
SCHEDULED = b"scheduled"
CANCELED = b"canceled"
#: Statuses of a dependency that ended without succeeding.
ENDED_BADLY = frozenset({b"failed", b"stopped", b"canceled"})
#: What reads see for a registry that was never written; never written to itself.
_NO_IDS = ScoredSet()


class MemoryBroker(KeyNames, Broker):
    """A :class:`~jq.broker.Broker` kept in this process's memory; thread-safe, no server.

    :param name: names the store in :attr:`url` (``memory://<name>``) and in :meth:`named`.
    :param clock: the time source for record and worker expiry (tests may drive it by hand).
        Blocking :meth:`claim` waits use real monotonic time whatever the clock.
    :param prefix: the key prefix for :meth:`job_key` and friends.

    ``MemoryBroker()`` is a fresh, empty store. To share one store between objects that only
    have a URL (``Queue(connection="memory://")`` and a worker in the same process), use
    :meth:`named`, which is what the ``memory://`` URL scheme resolves to.
    """

    shares_across_processes = False

    _named: ClassVar[dict[str, MemoryBroker]] = {}
    _named_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        name: str = "default",
        *,
        clock: Callable[[], float] = time.time,
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        self._name = name
        self._keys = KeySpace(prefix)
        self._cond = threading.Condition(threading.RLock())
        self._jobs = JobTable(clock)
        self._workers = WorkerTable(clock)
        self._clock = clock
        self._queues: dict[str, deque[str]] = {}
        self._known_queues: set[str] = set()
        self._registries: dict[Place, ScoredSet] = {}

    # -- the process-wide named stores ------------------------------------------------------------

    @classmethod
    def named(cls, name: str = "default") -> MemoryBroker:
        """The process's store called ``name``, created on first use; the same object every time."""
        with cls._named_lock:
            broker = cls._named.get(name)
            if broker is None:
                broker = cls._named[name] = cls(name)
            return broker

    @classmethod
    def forget(cls, name: str) -> None:
        """Drop the named store (its data goes once nothing else holds it). For tests."""
        with cls._named_lock:
            cls._named.pop(name, None)

    # -- identity -------------------------------------------------------------------------------

    @property
    def connection(self) -> MemoryBroker:
        """The broker itself: there is no client underneath."""
        return self

    @property
    def url(self) -> str:
        """``memory://<name>``."""
        return f"memory://{self._name}"

    def ping(self) -> None:
        """Always answers: the store is this object."""

    def __repr__(self) -> str:
        return f"MemoryBroker({self._name!r})"

    # -- job records ------------------------------------------------------------------------------

    def save_job(self, job_id: str, fields: Mapping[str, bytes], record_ttl: int | None = None) -> None:
        """Replace the record, keeping results and place; ``record_ttl`` sets or clears expiry."""
        with self._cond:
            self._jobs.put(job_id, fields)
            self._jobs.expire_in(job_id, record_ttl)

    def update_job(self, job_id: str, fields: Mapping[str, bytes]) -> bool:
        """Write fields onto a live record; False when there is none."""
        with self._cond:
            record = self._jobs.live(job_id)
            if record is None:
                return False
            record.update(fields)
            return True

    def load_job(self, job_id: str) -> Record | None:
        """A copy of the record, or None."""
        with self._cond:
            record = self._jobs.live(job_id)
            return None if record is None else dict(record)

    def load_jobs(self, job_ids: Sequence[str]) -> list[Record | None]:
        """Copies of the records, in order, None for each missing one."""
        with self._cond:
            return [self.load_job(job_id) for job_id in job_ids]

    def load_job_fields(self, job_id: str, names: Sequence[str]) -> list[bytes | None] | None:
        """Some fields of the record (None for a missing field), or None with no record."""
        with self._cond:
            record = self._jobs.live(job_id)
            return None if record is None else [record.get(name) for name in names]

    def job_exists(self, job_id: str) -> bool:
        """Whether a live record exists."""
        with self._cond:
            return self._jobs.live(job_id) is not None

    def job_ttl(self, job_id: str) -> float | None:
        """Seconds until the record expires, or None."""
        with self._cond:
            return self._jobs.ttl(job_id)

    def load_results(self, job_id: str) -> list[bytes]:
        """The result entries, newest first."""
        with self._cond:
            return self._jobs.results(job_id)

    def delete_job(self, job_id: str, places: Sequence[Place] = ()) -> bool:
        """Take the job out of ``places`` and delete its record, results and dependency sets."""
        with self._cond:
            existed = self._jobs.live(job_id) is not None
            for place in places:
                self._discard(place, job_id)
            self._jobs.purge(job_id)
            return existed

    # -- queues -----------------------------------------------------------------------------------

    def enqueue(self, request: EnqueueRequest) -> EnqueueOutcome:
        """Store and place one job, following :meth:`jq.broker.Broker.enqueue`'s steps."""
        with self._cond:
            return self._enqueue(request)

    def enqueue_many(self, requests: Sequence[EnqueueRequest]) -> list[EnqueueOutcome]:
        """Every request in order, the whole batch as one critical section."""
        with self._cond:
            return [self._enqueue(request) for request in requests]

    def _enqueue(self, request: EnqueueRequest) -> EnqueueOutcome:
        depends_on = list(dict.fromkeys(request.depends_on))
        missing = tuple(dep for dep in depends_on if self._jobs.live(dep) is None)
        if missing:
            return EnqueueOutcome(None, missing)
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

        record = self._jobs.put(request.job_id, request.fields)
        self._jobs.expire_in(request.job_id, request.record_ttl)
        # A re-enqueued job waits only on what this request names.
        self._jobs.forget_unmet(request.job_id)
        if blocked:
            status = CANCELED
            self._registry(PlaceKind.CANCELED, request.queue).add(request.job_id, float("inf"))
        elif unmet:
            status = DEFERRED
            self._registry(PlaceKind.DEFERRED, request.queue).add(request.job_id, self._clock())
            self._jobs.set_unmet(request.job_id, unmet)
        elif request.scheduled_at is not None:
            status = SCHEDULED
            self._registry(PlaceKind.SCHEDULED, request.queue).add(request.job_id, request.scheduled_at)
        else:
            status = QUEUED
            self._push(request.queue, request.job_id, at_front=request.at_front)
        record[STATUS] = status
        return EnqueueOutcome(status.decode())

    def claim(
        self,
        queues: Sequence[str],
        fields: Mapping[str, bytes],
        lease_until: float,
        wait: float | None = None,
    ) -> Claimed | None:
        """Take the first claimable job of the first queue that has one, waiting up to ``wait``."""
        with self._cond:
            claimed = self._take(queues, fields, lease_until)
            if claimed is not None or wait is None or wait <= 0:
                return claimed
            deadline = time.monotonic() + wait
            while claimed is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                # Woken by every push onto any queue; spurious wake-ups just try again.
                self._cond.wait(remaining)
                claimed = self._take(queues, fields, lease_until)
            return claimed

    def _take(self, queues: Sequence[str], fields: Mapping[str, bytes], lease_until: float) -> Claimed | None:
        for queue in queues:
            ids = self._queues.get(queue)
            while ids:
                job_id = ids.popleft()
                record = self._jobs.live(job_id)
                # Expired, deleted or no longer queued (canceled, already claimed): not a job to run.
                if record is None or record.get(STATUS) != QUEUED:
                    continue
                self._start(job_id, queue, record, fields, lease_until)
                return Claimed(job_id, queue, dict(record))
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

    def dependent_ids(self, job_id: str) -> list[str]:
        """The jobs still waiting for this one, sorted."""
        with self._cond:
            return sorted(self._jobs.dependents(job_id))

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

    # -- registries and transitions ---------------------------------------------------------------

    def registry_ids(self, place: Place, start: int = 0, end: int = -1) -> list[str]:
        """Ids by ascending score, ``start`` to ``end`` inclusive."""
        with self._cond:
            ids = self._peek(place).ordered()
            return [ids[index] for index in redis_range(len(ids), start, end)]

    def registry_count(self, place: Place) -> int:
        """How many ids the registry holds."""
        with self._cond:
            return len(self._peek(place))

    def registry_score(self, place: Place, job_id: str) -> float | None:
        """The id's score, or None."""
        with self._cond:
            return self._peek(place).score(job_id)

    def registry_add(self, place: Place, job_id: str, score: float) -> None:
        """Add the id or update its score."""
        with self._cond:
            self._registry_of(place).add(job_id, score)

    def registry_remove(self, place: Place, job_id: str) -> bool:
        """Remove the id; whether it was there."""
        with self._cond:
            return self._registry_of(place).discard(job_id)

    def registry_expired(self, place: Place, before: float) -> list[str]:
        """Ids scored at or below ``before``, ascending."""
        with self._cond:
            return self._peek(place).at_or_below(before)

    def registry_cleanup(self, place: Place, before: float) -> list[str]:
        """Remove and return the ids scored at or below ``before``."""
        with self._cond:
            registry = self._registry_of(place)
            expired = registry.at_or_below(before)
            for job_id in expired:
                registry.discard(job_id)
            return expired

    def transition(self, change: Transition) -> bool:
        """Move a job and update its record, or refuse writing nothing."""
        with self._cond:
            job_id = change.job_id
            record = self._jobs.live(job_id)
            if record is None:
                return False
            if change.source is not None and not self._holds(change.source, job_id):
                return False
            if change.execution_id is not None and record.get(EXECUTION) != change.execution_id.encode():
                return False

            if change.source is not None:
                self._discard(change.source, job_id)
            if change.target is not None:
                if change.target.is_queue:
                    self._push(change.target.queue, job_id, at_front=change.at_front)
                else:
                    self._registry_of(change.target).add(job_id, change.score)
            record.update(change.fields)
            for name in change.delete_fields:
                record.pop(name, None)
            if change.result is not None:
                self._jobs.prepend_result(job_id, change.result)
            if change.dependents is not DependentsPolicy.NONE:
                self._release_dependents(job_id, change.dependents, change.released_fields)

            if change.record_ttl == 0:
                self._jobs.purge(job_id)
            elif change.record_ttl is not None:
                # PERSIST (or any other negative number) clears the expiry, positive sets it.
                self._jobs.expire_in(job_id, None if change.record_ttl <= PERSIST else change.record_ttl)
            return True

    def _release_dependents(
        self, job_id: str, policy: DependentsPolicy, released_fields: Mapping[str, bytes]
    ) -> None:
        still_waiting: list[str] = []
        for child in self._jobs.take_dependents(job_id):
            record = self._jobs.live(child)
            if record is None:
                self._jobs.forget_unmet(child)
                continue
            if policy is DependentsPolicy.FAILED and record.get(ALLOW_FAILURE) != b"1":
                # It still waits for this job: a requeued job that finishes releases it later.
                still_waiting.append(child)
                continue
            unmet = self._jobs.unmet(child)
            if unmet:
                unmet.discard(job_id)
                if unmet:
                    continue
            self._jobs.forget_unmet(child)
            origin = record.get(ORIGIN)
            if record.get(STATUS) != DEFERRED or origin is None:
                continue
            queue = origin.decode()
            self._registry(PlaceKind.DEFERRED, queue).discard(child)
            record.update(released_fields)
            # The status is written last: a claimer drops any id whose status is not queued.
            record[STATUS] = QUEUED
            self._push(queue, child, at_front=record.get(ENQUEUE_AT_FRONT) == b"1")
        self._jobs.keep_dependents(job_id, still_waiting)

    def promote_scheduled(
        self, queue: str, now: float, fields: Mapping[str, bytes], limit: int = 100
    ) -> list[str]:
        """Queue up to ``limit`` due scheduled jobs in score order; returns the ids queued."""
        with self._cond:
            scheduled = self._registry(PlaceKind.SCHEDULED, queue)
            promoted: list[str] = []
            for job_id in scheduled.at_or_below(now):
                # The limit counts jobs queued: ids dropped on the way do not use it up.
                if len(promoted) >= limit:
                    break
                scheduled.discard(job_id)
                record = self._jobs.live(job_id)
                if record is None:
                    continue
                record.update(fields)
                record[STATUS] = QUEUED
                self._push(queue, job_id, at_front=False)
                promoted.append(job_id)
            return promoted

    # -- workers ----------------------------------------------------------------------------------

    def register_worker(
        self, name: str, fields: Mapping[str, bytes], queues: Sequence[str], ttl: float
    ) -> bool:
        """Register a worker; False when a live one has the name."""
        with self._cond:
            return self._workers.register(name, fields, queues, ttl)

    def heartbeat_worker(
        self,
        name: str,
        fields: Mapping[str, bytes],
        ttl: float,
        increments: Mapping[str, float] | None = None,
    ) -> bool:
        """Keep a live worker alive, write ``fields``, then add ``increments``."""
        with self._cond:
            return self._workers.heartbeat(name, fields, ttl, increments or {})

    def unregister_worker(self, name: str) -> None:
        """Forget the worker."""
        with self._cond:
            self._workers.unregister(name)

    def worker_names(self, queue: str | None = None) -> list[str]:
        """Live workers' names (of ``queue`` when given), sorted."""
        with self._cond:
            return self._workers.names(queue)

    def load_workers(self, names: Sequence[str]) -> list[Record | None]:
        """Copies of the workers' records, None for each gone one."""
        with self._cond:
            return [self._workers.load(name) for name in names]

    # -- places (called with the condition held) --------------------------------------------------

    def _registry(self, kind: PlaceKind, queue: str) -> ScoredSet:
        return self._registry_of(Place(kind, queue))

    def _registry_of(self, place: Place) -> ScoredSet:
        registry = self._registries.get(place)
        if registry is None:
            registry = self._registries[place] = ScoredSet()
        return registry

    def _peek(self, place: Place) -> ScoredSet:
        # Reads must not leave an empty registry behind for every place anyone asked about.
        return self._registries.get(place) or _NO_IDS

    def _push(self, queue: str, job_id: str, *, at_front: bool) -> None:
        ids = self._queues.setdefault(queue, deque())
        if at_front:
            ids.appendleft(job_id)
        else:
            ids.append(job_id)
        # A job on a queue must be findable through the queue's name, however it got there.
        self._known_queues.add(queue)
        self._cond.notify_all()

    def _remove_from_queue(self, queue: str, job_id: str) -> None:
        ids = self._queues.get(queue)
        if ids is not None and job_id in ids:
            self._queues[queue] = deque(other for other in ids if other != job_id)

    def _holds(self, place: Place, job_id: str) -> bool:
        if place.is_queue:
            return job_id in self._queues.get(place.queue, ())
        return job_id in self._peek(place)

    def _discard(self, place: Place, job_id: str) -> None:
        if place.is_queue:
            self._remove_from_queue(place.queue, job_id)
        else:
            self._registry_of(place).discard(job_id)
