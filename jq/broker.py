"""The broker contract: what jq's core asks of a storage driver, stated in queue meaning.

jq's core (``Queue``, ``Job``, ``Worker``, the registries) never talks to Redis or any other store
directly. It talks to a :class:`Broker`, and a driver implements one. jq ships two drivers:
``jq_backends.redis`` (production) and ``jq_backends.memory`` (one process, no server).

Conventions that every method follows:

* Job ids, queue names and worker names are ``str``; everything stored is ``bytes``. A job
  *record* is a flat mapping of field name to bytes (a Redis hash in the Redis driver). The core
  encodes and decodes every field; a driver reads only the fields this module names
  (:data:`STATUS`, :data:`ORIGIN`, :data:`EXECUTION`, :data:`ENQUEUE_AT_FRONT`,
  :data:`ALLOW_FAILURE`), and writes only :data:`STATUS` on its own.
* Times are Unix timestamps in seconds (``float``) chosen by the core and passed in, so that a
  test can drive a clock and two machines agree on what a score means. Record expiry (TTL) is the
  only time a driver measures itself.
* A job is always in exactly one *place* — a queue or one registry (:class:`Place`) — or in none
  once it has ended without being kept in a registry. Every method whose docstring says
  **ATOMIC** does all its reads and writes as one indivisible step: another client sees the state
  before it or after it, never between (one Lua script or ``MULTI`` on Redis, one critical section
  in memory). A method that is not marked atomic may be observed half done.
* A method that refuses (returns ``False`` or ``None`` as documented) writes nothing.
* A job's results and its dependency sets share its record's expiry: whatever sets, keeps or
  removes the record's TTL does the same to them, and when a record expires they go with it (a
  new job under the same id starts with no results, dependents or dependencies).
* A record with no fields is no record. ``record_ttl`` in :meth:`Broker.enqueue` and
  :meth:`Broker.save_job`: ``None``, 0 or negative means no expiry.
* The status a method writes itself (``started`` on a claim, ``queued`` on a promotion or
  release) is written last; fields given with the call never override it. A transition to a
  queue writes no status: the caller passes ``status`` in its fields.
* Anything that puts an id on a queue makes the queue known (:meth:`Broker.queue_names`).

A third-party driver proves itself against :mod:`jq.testing`, the conformance suite jq's own
drivers pass.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, runtime_checkable

__all__ = [
    "ALLOW_FAILURE",
    "ENQUEUE_AT_FRONT",
    "EXECUTION",
    "KEEP",
    "ORIGIN",
    "PERSIST",
    "RESULTS_KEPT",
    "STATUS",
    "Broker",
    "Claimed",
    "CommandSubscription",
    "ControlStore",
    "DependentsPolicy",
    "EnqueueOutcome",
    "EnqueueRequest",
    "JobStore",
    "Place",
    "PlaceKind",
    "QueueStore",
    "Record",
    "RegistryStore",
    "Transition",
    "WorkerStore",
]

#: A job record or a worker record as stored: field name → bytes.
Record = dict[str, bytes]

# Record fields a driver reads or writes itself. Every other field is opaque to drivers.
#: The job's status, one of :class:`jq.job.JobStatus`'s values, UTF-8.
STATUS: Final = "status"
#: The name of the queue the job belongs to, UTF-8.
ORIGIN: Final = "origin"
#: The id of the job's current execution, written when a worker claims it.
EXECUTION: Final = "execution"
#: ``b"1"`` when a released dependent goes to the front of its queue.
ENQUEUE_AT_FRONT: Final = "enqueue_at_front"
#: ``b"1"`` when the job may run although a dependency failed or was canceled.
ALLOW_FAILURE: Final = "allow_dependency_failures"

#: How many result entries a job keeps (newest first); older ones are dropped.
RESULTS_KEPT: Final = 10

#: ``record_ttl`` value: leave the record's expiry as it is.
KEEP: Final = None
#: ``record_ttl`` value: remove any expiry, keep the record until it is deleted.
PERSIST: Final = -1


class PlaceKind(str, enum.Enum):
    """Where a job id can be: a queue (FIFO list) or one of the per-queue registries.

    Registries are sets ordered by a float *score* whose meaning depends on the kind:

    ================ ==========================================================
    ``started``      the lease deadline; past it, the job counts as abandoned
    ``finished``     when the record expires (``inf`` when kept forever)
    ``failed``       when the record expires (``inf`` when kept forever)
    ``deferred``     when the job was deferred (informational)
    ``scheduled``    when the job is due to be queued
    ``canceled``     when the record expires (``inf`` when kept forever)
    ================ ==========================================================
    """

    QUEUE = "queue"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"
    DEFERRED = "deferred"
    SCHEDULED = "scheduled"
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True)
class Place:
    """One queue, or one registry of one queue."""

    kind: PlaceKind
    queue: str

    @property
    def is_queue(self) -> bool:
        """True for the queue itself, False for its registries."""
        return self.kind is PlaceKind.QUEUE


class DependentsPolicy(str, enum.Enum):
    """What a transition does for the jobs that depend on the job it moves.

    ``NONE``: nothing. ``FINISHED``: the job succeeded: it stops being an unmet dependency of each
    dependent. ``FAILED``: the job failed, stopped or was canceled: it stops being an unmet
    dependency only of dependents whose :data:`ALLOW_FAILURE` field is ``b"1"``; the others keep
    waiting for it and stay in its dependents (so if it is requeued and then finishes, they are
    released).

    Under ``FINISHED`` and ``FAILED``, a dependent whose unmet dependencies become none, whose record
    still exists and whose status is ``deferred`` moves from its origin's deferred registry to its
    origin queue (to the front when its :data:`ENQUEUE_AT_FRONT` field is ``b"1"``), gets
    :attr:`Transition.released_fields` and then status ``queued`` (written last: a released field
    never overrides it), and wakes a waiting claimer. A dependent stops being listed in the job's
    dependents once it no longer waits for the job (or once its record is gone).
    """

    NONE = "none"
    FINISHED = "finished"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class EnqueueRequest:
    """One job to store and place, see :meth:`Broker.enqueue`.

    ``fields`` is the whole record except :data:`STATUS`, which the broker writes.
    ``record_ttl``: ``None`` or :data:`PERSIST` keeps the record until deleted; a positive number of
    seconds makes it expire (a queued job not started in time is dropped: claimers skip ids whose
    record is gone). ``depends_on`` lists job ids that must finish first. ``scheduled_at``, when
    given and the dependencies are met, places the job in the scheduled registry with that score
    instead of the queue. ``allow_failure`` counts failed, stopped and canceled dependencies as met.
    """

    job_id: str
    queue: str
    fields: Mapping[str, bytes]
    record_ttl: int | None = None
    at_front: bool = False
    depends_on: Sequence[str] = ()
    scheduled_at: float | None = None
    allow_failure: bool = False


@dataclass(frozen=True, slots=True)
class EnqueueOutcome:
    """What :meth:`Broker.enqueue` did.

    ``status`` is the status written (``queued``, ``deferred``, ``scheduled`` or ``canceled``), or
    ``None`` when the request was refused because dependencies in ``missing`` have no record (then
    nothing was written).
    """

    status: str | None
    missing: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Claimed:
    """A job a worker now owns: it is in the started registry of ``queue`` under a lease.

    ``record`` is the whole job record after the claim's fields were written.
    """

    job_id: str
    queue: str
    record: Record


@dataclass(frozen=True, slots=True)
class Transition:
    """One move of a job between places, see :meth:`Broker.transition`.

    ``source``: the place the job must be in now (``None``: in no place; the record must exist).
    ``target``: where it goes (``None``: no place). For a registry target, ``score`` is its score;
    for a queue target, ``at_front`` picks the end. ``fields`` are written onto the record and
    ``delete_fields`` removed from it. ``record_ttl``: :data:`KEEP` leaves the expiry alone,
    :data:`PERSIST` removes it, ``0`` deletes the record (with its results and dependency sets)
    after the move, a positive number of seconds sets a new expiry on the record and its results.
    ``result``, when given, is prepended to the job's result entries (at most
    :data:`RESULTS_KEPT` kept). ``execution_id``, when given, must equal the record's
    :data:`EXECUTION` field: a late write from a stale execution is refused.
    ``dependents`` and ``released_fields``: see :class:`DependentsPolicy`.
    """

    job_id: str
    source: Place | None
    target: Place | None
    score: float = 0.0
    at_front: bool = False
    fields: Mapping[str, bytes] = field(default_factory=dict)
    delete_fields: Sequence[str] = ()
    record_ttl: int | None = KEEP
    result: bytes | None = None
    execution_id: str | None = None
    dependents: DependentsPolicy = DependentsPolicy.NONE
    released_fields: Mapping[str, bytes] = field(default_factory=dict)


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
    def delete_job(self, job_id: str, places: Sequence[Place] = ()) -> bool:
        """Remove the job from each of ``places`` and delete its record, results and dependency sets.

        ATOMIC. Returns whether a record existed. Jobs that depend on it are left as they are.
        """

    @abc.abstractmethod
    def dependent_ids(self, job_id: str) -> list[str]:
        """Ids of the jobs still waiting for this one (its dependents not yet released), sorted.

        May include dependents whose records have expired since.
        """


class QueueStore(abc.ABC):
    """Queues: ordered job ids by queue name, the calls that put a job on one and take it off.

    :meth:`enqueue` (each request of :meth:`enqueue_many`), :meth:`claim_job`,
    :meth:`extend_lease`, :meth:`empty_queue`, :meth:`delete_queue` and the step of :meth:`claim`
    that takes a job are ATOMIC, so no job is claimed twice or lost between a queue and the started
    registry. The counts and listings are not. A queue may hold ids whose records expired or whose
    status is no longer ``queued``; claims drop them. Whatever puts an id on a queue, here or in
    :class:`RegistryStore`, makes the queue known (:meth:`queue_names`).
    """

    @abc.abstractmethod
    def enqueue(self, request: EnqueueRequest) -> EnqueueOutcome:
        """Store a job and place it according to its dependencies.

        ATOMIC. In order:

        1. If any id in ``depends_on`` has no record, refuse: write nothing, return the missing ids.
        2. The queue becomes known (see :meth:`queue_names`).
        3. A dependency is *met* when its status is ``finished``, or when the request allows failure
           and its status is ``failed``, ``stopped`` or ``canceled``. If one is unmet because it
           failed, stopped or was canceled (and failure is not allowed), the job is stored with
           status ``canceled`` in the canceled registry (score ``inf``).
        4. Else, if some dependencies are unmet (queued, started, deferred, scheduled...), the job is
           stored with status ``deferred`` in the deferred registry, its unmet dependency ids are
           recorded, and it is added to each unmet dependency's dependents (see
           :class:`DependentsPolicy`).
        5. Else, with ``scheduled_at``, status ``scheduled`` in the scheduled registry with score
           ``scheduled_at``.
        6. Else status ``queued`` at the back of the queue (front with ``at_front``), waking one
           waiting claimer.

        The record replaces any earlier record with the same id; ``record_ttl`` applies to it.
        """

    def enqueue_many(self, requests: Sequence[EnqueueRequest]) -> list[EnqueueOutcome]:
        """:meth:`enqueue` for each request, in order, as one round trip where the store allows.

        Each request is atomic on its own; drivers may make the batch atomic as a whole.
        """
        return [self.enqueue(request) for request in requests]

    @abc.abstractmethod
    def claim(
        self,
        queues: Sequence[str],
        fields: Mapping[str, bytes],
        lease_until: float,
        wait: float | None = None,
    ) -> Claimed | None:
        """Take the next job from the first of ``queues`` that has one.

        ATOMIC (the step that takes a job): pops the first id of the first non-empty queue, in the
        order given; an id whose record is gone (expired) or whose status is not ``queued`` is
        dropped and the next one tried. The job gets ``fields`` (which include :data:`EXECUTION`)
        and status ``started``, loses any expiry (a started job never expires), and enters the
        queue's started registry with score ``lease_until``. Returns the claimed job, or None if
        every queue is empty.

        ``wait``: None or 0 returns at once; a positive number of seconds blocks until a job can be
        claimed or the time is up. A blocked claimer is woken by an enqueue, a requeue or a released
        dependent on any of its queues, without polling.
        """

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

    :meth:`registry_cleanup`, :meth:`transition` and :meth:`promote_scheduled` are ATOMIC.
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

    @abc.abstractmethod
    def registry_expired(self, place: Place, before: float) -> list[str]:
        """Ids whose score is at or below ``before``, ascending (nothing is removed)."""

    @abc.abstractmethod
    def registry_cleanup(self, place: Place, before: float) -> list[str]:
        """Remove and return the ids whose score is at or below ``before``. ATOMIC."""

    @abc.abstractmethod
    def transition(self, change: Transition) -> bool:
        """Move a job between places and update its record, see :class:`Transition`.

        ATOMIC. Refused (False, nothing written) when the record is missing, when the job is not in
        ``change.source``, or when ``change.execution_id`` does not match the record. With
        ``source=None`` the caller states that the job is in no place; the driver does not look.
        A queue target wakes a waiting claimer.
        """

    @abc.abstractmethod
    def promote_scheduled(
        self, queue: str, now: float, fields: Mapping[str, bytes], limit: int = 100
    ) -> list[str]:
        """Move up to ``limit`` due jobs (score at or below ``now``) from the scheduled registry to
        the back of the queue, in score order, with status ``queued`` and ``fields``.

        ATOMIC. Ids whose record is gone are dropped. Returns the ids queued.
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
    """Telling workers what to do: suspending all of them, and commands to one of them.

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


class Broker(JobStore, QueueStore, RegistryStore, WorkerStore, ControlStore, abc.ABC):
    """The storage and messaging a job queue needs, in queue meaning.

    A broker is thread-safe: one instance may be shared by a producer thread and a worker thread.

    Its methods are grouped by concern in :class:`JobStore`, :class:`QueueStore`,
    :class:`RegistryStore`, :class:`WorkerStore` and :class:`ControlStore`; this class adds the
    broker's identity: its client, its URL, its key names, :meth:`ping` and :meth:`close`. A
    driver subclasses this class (``isinstance(x, Broker)`` is how the core recognizes one); jq's
    own drivers do so through one mixin per concern.
    """

    #: True when separate processes (a forked work horse, other machines) see the same data.
    #: A broker that says False is refused, with a clear error, by anything that needs processes.
    shares_across_processes: bool = True

    #: Exceptions that mean "the store cannot be reached right now; try again later" (a lost
    #: connection, a timeout, a server still loading). Workers catch these, wait with a capped
    #: back-off and carry on; anything else is a real error.
    transient_errors: tuple[type[BaseException], ...] = ()

    @property
    @abc.abstractmethod
    def connection(self) -> Any:
        """The native client this broker uses (a redis-py client), or the broker itself.

        This is what ``queue.connection`` returns and what callbacks receive as ``connection``.
        """

    @property
    @abc.abstractmethod
    def url(self) -> str:
        """A URL that names this broker's store, without any password, for logs and the CLI."""

    @abc.abstractmethod
    def job_key(self, job_id: str) -> str:
        """The key under which the job's record is stored (``jq:job:<id>``)."""

    @abc.abstractmethod
    def queue_key(self, queue: str) -> str:
        """The key under which the queue's job ids are stored (``jq:queue:<name>``)."""

    @abc.abstractmethod
    def place_key(self, place: Place) -> str:
        """The key of a queue or registry."""

    @abc.abstractmethod
    def worker_key(self, name: str) -> str:
        """The key of a worker's record (``jq:worker:<name>``)."""

    @abc.abstractmethod
    def worker_name_from_key(self, key: str) -> str | None:
        """The worker name a :meth:`worker_key` was built from, or None if it is not one."""

    @abc.abstractmethod
    def ping(self) -> None:
        """Check that the store answers; raise the driver's connection error if not."""

    def close(self) -> None:  # optional for drivers, deliberately not abstract
        """Release connections this broker opened itself. The default does nothing."""
