"""The memory driver's shared state, and the place helpers every concern's mixin uses.

:class:`MemoryState` owns the one :class:`threading.Condition` and the tables. Each mixin
(:mod:`.records`, :mod:`.queues`, :mod:`.registries`, :mod:`.workers`) holds that condition for the
whole of every public method, which is what makes each method atomic; the helpers here expect the
caller to hold it already.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from jq.broker import (
    ALLOW_FAILURE,
    ENQUEUE_AT_FRONT,
    ORIGIN,
    SCHEDULED_AT,
    STATUS,
    DependentsPolicy,
    Place,
    PlaceKind,
    Record,
    Transition,
)
from jq_backends.fields import FAILURE_TTL, PLACE_OF_STATUS, failure_ttl, scheduled_time
from jq_backends.keys import DEFAULT_PREFIX, KeySpace
from jq_backends.memory import _slots
from jq_backends.memory._tables import JobTable, RateLimitState, ScoredSet, WorkerTable

if TYPE_CHECKING:
    from jq_backends.memory.control import Subscription

__all__ = [
    "CANCELED",
    "DEFERRED",
    "FAILED",
    "FINISHED",
    "QUEUED",
    "SCHEDULED",
    "STARTED",
    "MemoryState",
]

QUEUED = b"queued"
STARTED = b"started"
FINISHED = b"finished"
DEFERRED = b"deferred"
SCHEDULED = b"scheduled"
CANCELED = b"canceled"
#: The status of a dependency that a job allowing failure counts as met.
FAILED = b"failed"
#: What reads see for a registry that was never written; never written to itself.
_NO_IDS = ScoredSet()


class MemoryState:
    """The store's data under one condition: job and worker tables, queues, registries, clock, keys.

    :param name: names the store (see :class:`jq_backends.memory.MemoryBroker`).
    :param clock: the time source for record and worker expiry.
    :param prefix: the key prefix for the key-naming methods.
    """

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
        # Job groups (jq_backends.memory.groups): name -> ids.
        self._groups: dict[str, set[str]] = {}
        # Rate limits (jq_backends.memory._slots): key -> its slots and line.
        self._rate_limits: dict[str, RateLimitState] = {}
        # Markers of EnqueueRequest.once (never expire) and locks: name -> (token, deadline).
        self._markers: dict[str, float] = {}
        self._locks: dict[str, tuple[str, float]] = {}
        # Control (jq_backends.memory.control): the suspension deadline and command handlers.
        self._suspended_until: float | None = None
        self._subscriptions: dict[str, list[Subscription]] = {}

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

    def _take_out(self, job_id: str, record: Record) -> None:
        """Take a job out of the place its status names in its origin (it is being replaced)."""
        origin = record.get(ORIGIN)
        kind = PLACE_OF_STATUS.get(record.get(STATUS, b""))
        if origin is None or kind is None:
            return
        queue = origin.decode()
        if kind is PlaceKind.QUEUE:
            self._remove_from_queue(queue, job_id)
        else:
            registry = self._registries.get(Place(kind, queue))
            if registry is not None:
                registry.discard(job_id)

    def _keep_canceled(self, job_id: str, queue: str, ttl: int, now: float) -> None:
        """File a canceled job under its origin's canceled registry for ``ttl`` seconds.

        Positive: scored ``now + ttl`` and expiring then; negative: kept forever (score ``inf``);
        zero: not kept at all (record, results and dependency sets deleted, no registry entry).
        """
        if ttl == 0:
            self._jobs.purge(job_id)
            return
        score = now + ttl if ttl > 0 else math.inf
        self._registry(PlaceKind.CANCELED, queue).add(job_id, score)
        self._jobs.expire_in(job_id, ttl if ttl > 0 else None)

    def _settle_dependents(self, change: Transition) -> None:
        """Release, leave waiting or cancel the dependents of ``change.job_id`` (see
        DependentsPolicy)."""
        now = self._clock() if change.now is None else change.now
        # Depth first over the jobs whose dependents are settled: the job itself, then each
        # dependent canceled on the way, whose own dependents are settled as VANISHED. A canceled
        # job is filed (registry, expiry) only after its own dependents were settled: a TTL of
        # zero deletes its set of dependents. `visited` guards against a cycle of dependents.
        stack: list[tuple[str, DependentsPolicy, tuple[str, int] | None]] = [
            (change.job_id, change.dependents, None)
        ]
        visited = {change.job_id}
        while stack:
            parent, policy, canceled = stack.pop()
            for child in self._jobs.dependents(parent):
                record = self._jobs.live(child)
                if record is None:
                    self._jobs.drop_dependent(parent, child)
                    self._jobs.forget_unmet(child)
                    continue
                deferred = record.get(STATUS) == DEFERRED and ORIGIN in record
                tolerant = record.get(ALLOW_FAILURE) == b"1"
                if policy is DependentsPolicy.FAILED and deferred and not tolerant:
                    continue  # it waits for the job to be requeued and to succeed
                self._jobs.drop_dependent(parent, child)
                still_waiting = self._jobs.stop_waiting(child, parent)
                if policy is not DependentsPolicy.VANISHED or tolerant:
                    if not still_waiting:
                        self._release(child, record, change.released_fields, now)
                elif child not in visited and deferred:
                    visited.add(child)
                    queue = record[ORIGIN].decode()
                    self._registry(PlaceKind.DEFERRED, queue).discard(child)
                    record.update(change.canceled_fields)
                    record[STATUS] = CANCELED
                    ttl = failure_ttl(record.get(FAILURE_TTL), change.default_failure_ttl)
                    stack.append((child, DependentsPolicy.VANISHED, (queue, ttl)))
            if canceled is not None:
                self._keep_canceled(parent, *canceled, now)

    def _leave_dependencies(self, job_id: str) -> None:
        """The job stops waiting for its unmet dependencies (Transition.leave_dependencies)."""
        for parent in self._jobs.unmet(job_id) or ():
            self._jobs.drop_dependent(parent, job_id)
        self._jobs.forget_unmet(job_id)

    def _release(self, job_id: str, record: Record, released_fields: Mapping[str, bytes], now: float) -> None:
        """Queue a deferred job whose dependencies are all met, or schedule it when its
        :data:`SCHEDULED_AT` time is after ``now`` (nothing when it is not deferred)."""
        origin = record.get(ORIGIN)
        if record.get(STATUS) != DEFERRED or origin is None:
            return
        queue = origin.decode()
        self._registry(PlaceKind.DEFERRED, queue).discard(job_id)
        record.update(released_fields)
        due = scheduled_time(record.get(SCHEDULED_AT))
        if due is not None and due > now:
            self._registry(PlaceKind.SCHEDULED, queue).add(job_id, due)
            record[STATUS] = SCHEDULED
            return
        # The status is written last: a claimer drops any id whose status is not queued (a job
        # waiting for a rate-limit slot gets rate_limited instead).
        record[STATUS] = _slots.to_queue(
            self, job_id, record, queue, at_front=record.get(ENQUEUE_AT_FRONT) == b"1"
        )
