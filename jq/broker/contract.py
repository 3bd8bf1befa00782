"""The broker contract's required parts, one abstract class per concern (see :mod:`jq.broker`).

:mod:`jq.broker.optional` holds the optional parts (pipelines, groups, rate limits) and
:mod:`jq.broker.base` the :class:`~jq.broker.base.Broker` that combines them.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from jq.broker.types import (
    Claimed,
    ClaimFields,
    ClaimLease,
    DependentsPolicy,
    EnqueueOutcome,
    EnqueueRequest,
    Place,
    Record,
    Reservation,
    Transition,
    WorkerUpdate,
)
from jq.defaults import DEFAULT_FAILURE_TTL
from jq.exceptions import UnsupportedByBrokerError

__all__ = [
    "CommandSubscription",
    "ControlStore",
    "JobStore",
    "QueueStore",
    "RegistryStore",
    "WorkerStore",
]


class JobStore(abc.ABC):
    """Job records: each job's fields, expiry, result entries and dependency sets, by job id.

    :meth:`save_job`, :meth:`update_job` and :meth:`delete_job` are ATOMIC. The reads are not
    marked atomic: a read of many records (:meth:`load_jobs`) may see some from before a concurrent
    write and some from after it. Whatever sets, keeps or removes a record's expiry does the same to
    its results and dependency sets, and a record with no fields is no record.

    Nothing here moves a job between places; :meth:`delete_job` only takes it out of the places
    the caller names.
    """

    @abc.abstractmethod
    def save_job(self, job_id: str, fields: Mapping[str, bytes], record_ttl: int | None = None) -> None:
        """Replace the job's record with ``fields``, keeping its results and place.

        ATOMIC. ``record_ttl``: ``None`` or :data:`PERSIST` for no expiry, else seconds.
        """

    @abc.abstractmethod
    def update_job(self, job_id: str, fields: Mapping[str, bytes]) -> bool:
        """Write ``fields`` onto an existing record. ATOMIC. False (nothing written) if it is gone."""

    @abc.abstractmethod
    def load_job(self, job_id: str) -> Record | None:
        """The whole record, or None if there is none (never saved, deleted or expired)."""

    @abc.abstractmethod
    def load_jobs(self, job_ids: Sequence[str]) -> list[Record | None]:
        """:meth:`load_job` for many ids in one round trip, in the order given."""

    @abc.abstractmethod
    def load_job_fields(self, job_id: str, names: Sequence[str]) -> list[bytes | None] | None:
        """Some fields of a record (None for a missing field), or None if there is no record."""

    @abc.abstractmethod
    def job_exists(self, job_id: str) -> bool:
        """Whether the job has a record."""

    @abc.abstractmethod
    def job_ttl(self, job_id: str) -> float | None:
        """Seconds until the record expires; None when it has no expiry or no record."""

    @abc.abstractmethod
    def load_results(self, job_id: str) -> list[bytes]:
        """The job's result entries, newest first (empty when none or no record)."""

    @abc.abstractmethod
    def delete_job(
        self,
        job_id: str,
        places: Sequence[Place] = (),
        *,
        dependents: DependentsPolicy = DependentsPolicy.NONE,
        released_fields: Mapping[str, bytes] | None = None,
        canceled_fields: Mapping[str, bytes] | None = None,
        default_failure_ttl: int = DEFAULT_FAILURE_TTL,
        now: float | None = None,
    ) -> bool:
        """Remove the job from each of ``places`` and delete its record, results and dependency sets.

        ATOMIC. Returns whether a record existed. With the default ``dependents`` policy
        (``NONE``), jobs that depend on it are left as they are: still deferred, they wait for a
        job that no longer exists until :meth:`settle_orphans` settles them. With another, the
        jobs waiting for it are settled first, in the same step, exactly as a :meth:`transition`
        with that policy and these ``released_fields``, ``canceled_fields``,
        ``default_failure_ttl`` and ``now`` would (see :class:`DependentsPolicy`): under
        ``VANISHED``, those that allow failure are released and the others canceled, down the
        chain.
        """

    @abc.abstractmethod
    def dependent_ids(self, job_id: str) -> list[str]:
        """Ids of the jobs still waiting for this one (its dependents not yet released), sorted.

        May include dependents whose records have expired since.
        """


class QueueStore(abc.ABC):
    """Queues: ordered job ids by queue name, the calls that put a job on one and take it off.

    :meth:`enqueue`, :meth:`enqueue_many` (the whole batch), :meth:`claim_job`,
    :meth:`reserve`, :meth:`extend_lease`, :meth:`empty_queue`, :meth:`delete_queue` and the step
    of :meth:`claim` that takes a job are ATOMIC, so no job is claimed twice or lost between a
    queue and the started registry. The counts and listings are not (a job reserved from a
    queue is in neither its ids nor its count: see :class:`~jq.broker.Reservation`). A queue may
    hold ids whose records expired or whose status is no longer ``queued``; claims drop them (see
    :meth:`claim` for corrupt records).
    Whatever puts an id on a queue, here or in :class:`RegistryStore`, makes the queue known
    (:meth:`queue_names`).
    """

    @abc.abstractmethod
    def enqueue(self, request: EnqueueRequest) -> EnqueueOutcome:
        """Store a job and place it according to its dependencies.

        ATOMIC. In order:

        1. Refusals (nothing is written; :attr:`EnqueueOutcome.reason` says why): ``unique`` is
           set and a record with this id exists, whatever its status (``duplicate``); ``once``
           is set and its marker is at or above its value (``already``); following unmet
           dependencies from ``depends_on`` — each job's set of unmet dependencies, transitively —
           reaches ``job_id`` (``cycle``).
        2. With ``once``, its marker is set to its value. If a record with this id exists, the id
           is taken out of the place its status names in its origin (the old job is replaced; a
           replaced running execution can no longer record its outcome). Its list of dependents
           is kept: they now wait for the new job.
        3. The queue becomes known (see :meth:`queue_names`). With ``group``, the id joins that
           group (see :class:`~jq.broker.GroupStore`).
        4. A dependency in ``depends_on`` that has no record is left out: it counts as met, as in
           RQ (a job depending only on unknown ids is queued). A dependency is *met* when its
           status is ``finished``, or when the request allows failure and its status is
           ``failed``. Any other dependency is *unmet*, whatever its status: one that failed,
           stopped or was canceled may still be requeued, and a dependency whose record goes is
           settled by :meth:`settle_orphans`.
        5. If some dependencies are unmet, the job is stored with status ``deferred`` in the
           deferred registry (scored by the broker's clock), its unmet dependency ids are
           recorded, and it is added to each unmet dependency's dependents (see
           :class:`DependentsPolicy`; once released, a job with ``scheduled_at`` is scheduled for
           that time if it has not passed).
        6. Else, with ``scheduled_at``, status ``scheduled`` in the scheduled registry with score
           ``scheduled_at``.

        With ``scheduled_at``, the record also gets it in its :data:`SCHEDULED_AT` field (whatever
        the status), written after the request's fields.
        7. Else status ``queued`` at the back of the queue (front with ``at_front``), waking one
           waiting claimer; or, for a job whose rate limit has no slot for it, status
           ``rate_limited`` in its key's line (see :class:`~jq.broker.RateLimitStore`).

        The record replaces any earlier record with the same id; ``record_ttl`` applies to it.
        """

    @abc.abstractmethod
    def enqueue_many(self, requests: Sequence[EnqueueRequest]) -> list[EnqueueOutcome]:
        """:meth:`enqueue` for each request, in order, all or nothing.

        ATOMIC as a whole (one round trip where the store allows it). Every request is checked
        first, in order, against the store as the batch will leave it: an id enqueued by an
        earlier request exists with the status it gets, its marker set and its unmet dependencies
        recorded; an id enqueued by a later request exists as a job that has not ended (so a child
        may be listed before or after its parent: it waits for it either way). A request that is
        refused is checked as writing nothing (the requests after it do not see it).

        If no request is refused, every one is written as :meth:`enqueue` would, in order (a
        dependency enqueued by a later request of the batch counting as an unmet one), and the
        outcomes are their statuses. If any is refused, nothing of the batch is written: the
        outcome of each refused request says why, and every other request's outcome is
        ``EnqueueOutcome(None, reason=RefusalReason.BATCH)``.
        """

    @abc.abstractmethod
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
        """Take the next job from the first of ``queues`` that has one.

        ATOMIC (the step that takes a job): pops the first id of the first non-empty queue, in the
        order given; an id whose record is gone (expired) or whose status is another one of
        :data:`STATUS_PLACES` than ``queued`` (the job lives in that place) is dropped and the next
        one tried. A record with no status or a status not in :data:`STATUS_PLACES` is corrupt: it
        is claimed like a queued job, and its status before the claim is reported in
        :attr:`Claimed.prior_status`, so that the job ends failed instead of lost. The job gets
        ``fields`` (which include :data:`EXECUTION`) and status ``started``, loses any expiry (a
        started job never expires), and enters the queue's started registry with score
        ``lease_until``. Returns the claimed job, or None if every queue is empty.

        ``wait``: None or 0 returns at once; a positive number of seconds blocks until a job can be
        claimed or the time is up. A blocked claimer is woken by an enqueue, a requeue or a released
        dependent on any of its queues, without polling.

        ``worker``: updates to the claiming worker's record, made with the claim (see
        :class:`WorkerUpdate`). ``fields`` may be a function returning them: it is called just
        before each attempt, so that times in them (``started_at``) are those of the claim, not
        those of the start of a wait. So may ``lease_until`` (see :data:`ClaimLease`): a lease
        counts from the claim, however long the claim waited or was prepared in advance.

        ``reserved`` and ``reserve`` are given only to a broker whose
        :attr:`~jq.broker.Broker.supports_reservations` is True (see :class:`Reservation`).

        ``reserved``: the caller's reservations, in the order it runs them. A queue from which the
        caller holds reservations gives its next job from them before its own ids: going through
        ``queues`` in order, the first reservation of the queue that is still held (in the
        queue's reserved registry, its execution id in the record's :data:`EXECUTION`, status
        ``queued``) is claimed instead of a popped id: it leaves the reserved registry, and is
        started as a popped id would be. Reservations of the queue listed before it that are no
        longer held are skipped (the entry of one whose record is gone leaves the registry). When
        the job claimed is not one of ``reserved`` (a queue listed before theirs had a job, or
        none is held any more), every reservation still held goes back to the front of its queue
        in the same step, in order, without its :data:`EXECUTION` field, waking a claimer:
        either way the caller then holds only those after the one started
        (:attr:`Claimed.from_reserved`), or none. With no job claimed it holds none either.

        ``reserve``: execution ids. After a claim that took its job off a queue (not from
        ``reserved``), up to ``len(reserve)`` more jobs are reserved for the caller from that same
        queue, as :meth:`reserve` reserves them, under the claim's lease: only when the queue
        still holds at least that many ids (a batch is taken from a deep queue only, so that the
        last jobs of a queue are shared among its workers). They are :attr:`Claimed.reservations`.
        """

    def reserve(
        self, queues: Sequence[str], execution_ids: Sequence[str], lease_until: float
    ) -> list[Reservation]:
        """Reserve up to ``len(execution_ids)`` jobs for the caller, taking them from ``queues``
        in order (the first queue's jobs first, then the next queue's), without starting them
        (see :class:`Reservation`).

        ATOMIC. Ids are taken off the front of each queue as :meth:`claim` takes them: an id whose
        record is gone, or whose status is another one of :data:`STATUS_PLACES` than ``queued``,
        is dropped. A record with no status or one jq does not know ends the reservation: it stays
        at the front of its queue, for a claim to take (and its worker to fail). The ``i``-th job
        reserved (0-based) gets ``execution_ids[i]`` in its :data:`EXECUTION` field, and nothing
        else: its status stays ``queued``, its expiry as it is; it enters its queue's reserved
        registry with score ``lease_until + i * RESERVATION_STEP``, by the store's clock (see
        :data:`~jq.broker.RESERVATION_STEP`). Returns the reservations in the order they were
        made, which is the order to run them in; none when every queue is empty.

        A reservation whose lease runs out is abandoned: a worker's maintenance gives its job back
        to the front of its queue. Not abstract, so that a driver written before it still loads:
        this default refuses with :class:`~jq.exceptions.UnsupportedByBrokerError`, and a broker
        says it reserves with :attr:`~jq.broker.Broker.supports_reservations`.
        """
        raise UnsupportedByBrokerError(f"{type(self).__name__} does not reserve jobs")

    @abc.abstractmethod
    def claim_job(
        self, job_id: str, queue: str, fields: Mapping[str, bytes], lease_until: float
    ) -> Record | None:
        """Claim one given job (``is_async=False`` runs it at once) as :meth:`claim` would.

        ATOMIC. Refused (None, nothing written) unless the record exists and its status is
        ``queued``, so a job claimed first by a worker is never started twice. The id is removed
        from ``queue`` (every occurrence). Returns the record after the write.
        """

    @abc.abstractmethod
    def extend_lease(self, queue: str, job_id: str, execution_id: str, lease_until: float) -> bool:
        """Move a started job's lease deadline to ``lease_until``.

        ATOMIC. False (nothing written) unless the job is in the queue's started registry and its
        :data:`EXECUTION` field equals ``execution_id``.
        """

    @abc.abstractmethod
    def queue_length(self, queue: str) -> int:
        """How many ids the queue holds (ids of expired records included until a claim drops them)."""

    @abc.abstractmethod
    def queue_job_ids(self, queue: str, start: int = 0, end: int = -1) -> list[str]:
        """Ids in queue order from ``start`` to ``end`` inclusive (negative counts from the end)."""

    @abc.abstractmethod
    def queue_position(self, queue: str, job_id: str) -> int | None:
        """The 0-based position of the id in the queue, or None when it is not there."""

    @abc.abstractmethod
    def queue_names(self) -> list[str]:
        """Every queue that was enqueued to and not deleted since, sorted by name."""

    @abc.abstractmethod
    def empty_queue(self, queue: str) -> int:
        """Remove every id from the queue and delete those jobs' records. ATOMIC. Returns the count."""

    @abc.abstractmethod
    def delete_queue(self, queue: str, delete_jobs: bool) -> None:
        """Forget the queue: its ids (and with ``delete_jobs`` their records) and its known name.

        ATOMIC. Registries are left as they are.
        """


class RegistryStore(abc.ABC):
    """Registries (per-queue sets of job ids scored by time, see :class:`PlaceKind`) and the moves
    of jobs between places.

    :meth:`registry_cleanup`, :meth:`transition`, :meth:`promote_scheduled` and
    :meth:`settle_orphans` are ATOMIC.
    :meth:`transition` moves a job between any two places (or into or out of none) together with
    its record, results and dependents in one step, or refuses and writes nothing. The other
    registry methods touch one registry only, never a record or another place.
    """

    @abc.abstractmethod
    def registry_ids(self, place: Place, start: int = 0, end: int = -1) -> list[str]:
        """Ids in the registry by ascending score, ``start`` to ``end`` inclusive."""

    @abc.abstractmethod
    def registry_count(self, place: Place) -> int:
        """How many ids the registry holds."""

    @abc.abstractmethod
    def registry_score(self, place: Place, job_id: str) -> float | None:
        """The id's score, or None when it is not in the registry."""

    @abc.abstractmethod
    def registry_add(self, place: Place, job_id: str, score: float) -> None:
        """Add the id with ``score`` or update its score (no other effect)."""

    @abc.abstractmethod
    def registry_remove(self, place: Place, job_id: str) -> bool:
        """Remove the id; whether it was there (no other effect)."""

    def registry_update_score(self, place: Place, job_id: str, score: float) -> bool:
        """Give an id already in the registry a new score; False (nothing written) when the id is
        not there (``registry.add(job, xx=True)`` in RQ's API).

        ATOMIC in jq's drivers. Not abstract, so that a driver written before it still loads: this
        default reads, then writes, and may add back an id removed between the two; the
        conformance suite expects a driver to override it.
        """
        if self.registry_score(place, job_id) is None:
            return False
        self.registry_add(place, job_id, score)
        return True

    @abc.abstractmethod
    def registry_expired(self, place: Place, before: float) -> list[str]:
        """Ids whose score is at or below ``before``, ascending (nothing is removed)."""

    @abc.abstractmethod
    def registry_cleanup(self, place: Place, before: float) -> list[str]:
        """Remove and return the ids whose score is at or below ``before``. ATOMIC."""

    @abc.abstractmethod
    def transition(self, change: Transition) -> bool:
        """Move a job between places and update its record, see :class:`Transition`.

        ATOMIC: every part of ``change`` is applied in one step, or none. Refused (False, nothing
        written) when the record is missing, when the job is not in ``change.move.source``, or
        when ``change.execution_id`` does not match the record. With no source the caller states
        that the job is in no place; the driver does not look. Dependents are settled
        (``change.settlement``) after the record's fields are written and before its expiry is
        set (a ``record_ttl`` of 0 deletes the job once they are settled). A queue target wakes a
        waiting claimer. ``change.worker`` updates the worker's record in the same step (see
        :class:`WorkerUpdate`).
        """

    @abc.abstractmethod
    def promote_scheduled(
        self, queue: str, now: float | None, fields: Mapping[str, bytes], limit: int = 100
    ) -> list[str]:
        """Move up to ``limit`` due jobs (score at or below ``now``; None: the store's clock, read
        within this step) from the scheduled registry to
        the back of the queue (to the front for a job whose :data:`ENQUEUE_AT_FRONT` field is
        ``b"1"``), in score order, with status ``queued`` and ``fields``.

        ATOMIC. Ids whose record is gone are dropped. Returns the ids queued.
        """

    @abc.abstractmethod
    def settle_orphans(
        self,
        queue: str,
        *,
        released_fields: Mapping[str, bytes],
        canceled_fields: Mapping[str, bytes],
        default_failure_ttl: int = DEFAULT_FAILURE_TTL,
        now: float | None = None,
    ) -> list[str]:
        """Settle the deferred jobs of ``queue`` that wait for a job with no record.

        ATOMIC. A dependency can vanish without settling its dependents: its record expired (a
        failed, stopped or canceled job kept for its ``failure_ttl``, or a job enqueued with a
        ``record_ttl`` that passed before it ran) or was deleted by a call that did not settle
        them. For each job of the queue's deferred registry whose status is ``deferred`` and whose
        unmet dependencies include an id with no record, each such dependency is settled as under
        :attr:`DependentsPolicy.VANISHED` with these fields, ``default_failure_ttl`` and ``now``:
        the job stops waiting for it, and is released if it allows failure and nothing else is
        unmet, else canceled (and its own dependents settled in turn, down the chain). Ids in the
        deferred registry whose record is gone are dropped from it. Returns the ids of the
        deferred jobs settled directly (not those down their chains), in registry order.
        """


class WorkerStore(abc.ABC):
    """Workers: live worker records, which expire unless kept alive, and who listens to which queue.

    :meth:`register_worker`, :meth:`heartbeat_worker` and :meth:`unregister_worker` are ATOMIC, so
    two live workers never share a name and an expired worker is never revived by a heartbeat.
    :meth:`worker_names` and :meth:`load_workers` are reads.
    """

    @abc.abstractmethod
    def register_worker(
        self, name: str, fields: Mapping[str, bytes], queues: Sequence[str], ttl: float
    ) -> bool:
        """Register a live worker: its record (expiring after ``ttl`` seconds) and queue index.

        ATOMIC. False (nothing written) when a live worker already has this name.
        """

    @abc.abstractmethod
    def heartbeat_worker(
        self,
        name: str,
        fields: Mapping[str, bytes],
        ttl: float,
        increments: Mapping[str, float] | None = None,
    ) -> bool:
        """Keep a worker alive for ``ttl`` more seconds, write ``fields`` and add ``increments``
        to numeric fields.

        ATOMIC. False (nothing written) when its record expired or it was unregistered.
        """

    @abc.abstractmethod
    def unregister_worker(self, name: str) -> None:
        """Delete the worker's record and remove it from every index. ATOMIC."""

    @abc.abstractmethod
    def worker_names(self, queue: str | None = None) -> list[str]:
        """Names of live workers (of those listening to ``queue`` when given), sorted."""

    @abc.abstractmethod
    def load_workers(self, names: Sequence[str]) -> list[Record | None]:
        """The workers' records in the order given (None for one that is gone)."""


@runtime_checkable
class CommandSubscription(Protocol):
    """A live subscription to a worker's commands, see :meth:`ControlStore.subscribe_commands`."""

    def close(self) -> None:
        """Stop receiving commands; no handler call starts after this returns (the store may
        count the subscription as a receiver for a moment longer)."""
        ...


class ControlStore(abc.ABC):
    """Coordinating workers: suspending all of them, locks (one active scheduler per queue),
    markers (read back; see ``EnqueueRequest.once``) and commands to one of them.

    None of these calls changes a job; workers act on what they read or receive.
    """

    @abc.abstractmethod
    def suspend(self, duration: float | None = None) -> None:
        """Mark every worker of this store suspended, for ``duration`` seconds or until
        :meth:`resume`. Workers finish their current job and take no new one while suspended.
        """

    @abc.abstractmethod
    def resume(self) -> None:
        """Lift a suspension (no effect when there is none)."""

    @abc.abstractmethod
    def is_suspended(self) -> bool:
        """Whether workers are suspended now."""

    def suspension_remaining(self) -> float | None:
        """How long workers stay suspended: the seconds until a suspension with a duration ends
        by itself, ``math.inf`` for one that lasts until :meth:`resume`, None when workers are not
        suspended.

        Not abstract, so that a driver written before it still loads; this default cannot tell
        a suspension with a duration from one without and answers ``math.inf`` for both. The
        conformance suite expects a driver to override it with the time left.
        """
        return math.inf if self.is_suspended() else None

    @abc.abstractmethod
    def acquire_lock(self, name: str, token: str, ttl: float) -> bool:
        """Take the lock ``name`` for ``ttl`` seconds if nobody holds it. ATOMIC.

        Whether it was taken. A lock whose holder stops extending it is free again after ``ttl``.
        """

    @abc.abstractmethod
    def extend_lock(self, name: str, token: str, ttl: float) -> bool:
        """Hold the lock for ``ttl`` more seconds if ``token`` still holds it. ATOMIC.

        False (nothing written) when it expired or another token holds it.
        """

    @abc.abstractmethod
    def release_lock(self, name: str, token: str) -> bool:
        """Free the lock if ``token`` holds it. ATOMIC. Whether it was held by ``token``."""

    @abc.abstractmethod
    def lock_owner(self, name: str) -> str | None:
        """The token holding the lock now, or None."""

    @abc.abstractmethod
    def marker(self, name: str) -> float | None:
        """The value the marker ``name`` was set to by an enqueue request's ``once``, or None
        while it is unset (a value that is not a number counts as unset)."""

    @abc.abstractmethod
    def publish_command(self, worker_name: str, payload: bytes) -> int:
        """Deliver ``payload`` to every handler subscribed for ``worker_name`` now; how many got it.

        Fire and forget: a worker that is not subscribed at this moment never sees it.
        """

    @abc.abstractmethod
    def subscribe_commands(self, worker_name: str, handler: Callable[[bytes], None]) -> CommandSubscription:
        """Call ``handler(payload)`` for every command published for ``worker_name`` until the
        returned subscription is closed.

        The subscription is in place when this returns. Handlers run on a thread of the broker's
        choosing (a listener thread, or the publisher's), never concurrently for one
        subscription; an exception in a handler is logged and the subscription goes on. A
        subscription outlives store outages: it listens again once the store is back.
        """
