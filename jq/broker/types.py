"""The broker contract's value types and record field names (see :mod:`jq.broker`)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from jq.broker.history import Tally
from jq.defaults import DEFAULT_FAILURE_TTL

__all__ = [
    "ALLOW_FAILURE",
    "ENQUEUE_AT_FRONT",
    "EXECUTION",
    "FAILURE_TTL",
    "KEEP",
    "ORIGIN",
    "PENDING_STATUSES",
    "PERSIST",
    "RATE_LIMIT_CONCURRENCY",
    "RATE_LIMIT_KEY",
    "RESERVATION_STEP",
    "RESULTS_KEPT",
    "SCHEDULED_AT",
    "STATUS",
    "STATUS_PLACES",
    "WORKER_CURRENT_JOB",
    "WORKER_STATE",
    "Cancellation",
    "ClaimFields",
    "ClaimLease",
    "ClaimRequest",
    "Claimed",
    "DependentsPolicy",
    "EnqueueOutcome",
    "EnqueueRequest",
    "Move",
    "Place",
    "PlaceKind",
    "Record",
    "RecordEdit",
    "RefusalReason",
    "Reservation",
    "ResultEntry",
    "Settlement",
    "Status",
    "Target",
    "ToQueue",
    "ToRegistry",
    "Transition",
    "WorkerState",
    "WorkerUpdate",
    "claim_fields_now",
    "claim_lease_now",
    "settlement_for",
]

#: A job record or a worker record as stored: field name → bytes.
Record = dict[str, bytes]

# Record fields a driver reads or writes itself. Every other field is opaque to drivers.
#: The job's status, one of :class:`Status`'s values, UTF-8.
STATUS: Final = "status"
#: The name of the queue the job belongs to, UTF-8.
ORIGIN: Final = "origin"
#: The id of the job's current execution, written when a worker claims it.
EXECUTION: Final = "execution"
#: ``b"1"`` when a released dependent goes to the front of its queue.
ENQUEUE_AT_FRONT: Final = "enqueue_at_front"
#: The field of a worker's record naming the job it runs (see :class:`WorkerUpdate`).
WORKER_CURRENT_JOB: Final = "current_job"
#: The field of a worker's record saying what it does, one of :class:`WorkerState`'s values, UTF-8.
WORKER_STATE: Final = "state"
#: ``b"1"`` when the job may run although a dependency failed or was canceled.
ALLOW_FAILURE: Final = "allow_dependency_failures"
#: How long a failed or canceled job is kept: whole seconds as text (``-1``: forever).
FAILURE_TTL: Final = "failure_ttl"
#: When a job enqueued with ``scheduled_at`` is due, as a registry score (decimal text), written by
#: the driver at enqueue: a job deferred first is scheduled for that time when it is released.
SCHEDULED_AT: Final = "scheduled_at"

#: The key of the job's rate limit (``RateLimit.key``), UTF-8: jobs sharing it share its slots.
RATE_LIMIT_KEY: Final = "rate_limit_key"
#: How many jobs of that key may hold a slot at once when this one takes one (decimal text).
RATE_LIMIT_CONCURRENCY: Final = "rate_limit_concurrency"

#: Seconds between the registry scores of the jobs of one reservation (see
#: :meth:`jq.broker.Broker.reserve`): the ``i``-th job reserved is scored ``lease_until + i *
#: RESERVATION_STEP``, so that the reserved registry lists a batch in the order it was reserved.
RESERVATION_STEP: Final = 0.001

#: How many result entries a job keeps (newest first) unless a transition says more; older ones
#: are dropped.
RESULTS_KEPT: Final = 10

#: :attr:`RecordEdit.record_ttl` value: leave the record's expiry as it is.
KEEP: Final = None
#: :attr:`RecordEdit.record_ttl` value: remove any expiry, keep the record until it is deleted.
PERSIST: Final = -1


class Status(str, enum.Enum):
    """A job's status as its record's :data:`STATUS` field holds it (UTF-8): the one list of the
    statuses jq stores. :class:`jq.job.JobStatus` has these values (and two that no record
    holds), the Redis driver's scripts get them as constants (``S_QUEUED``...), and
    :data:`STATUS_PLACES` says where a job of each is.
    """

    QUEUED = "queued"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"
    #: Stopped by a worker command; kept with the failed jobs.
    STOPPED = "stopped"
    DEFERRED = "deferred"
    SCHEDULED = "scheduled"
    CANCELED = "canceled"
    #: Waiting for a slot of its rate limit, on no queue until one is free.
    RATE_LIMITED = "rate_limited"

    @property
    def stored(self) -> bytes:
        """The status as a record holds it."""
        return self.value.encode()


class WorkerState(str, enum.Enum):
    """What a worker does, as its record's :data:`WORKER_STATE` field holds it (UTF-8): the one
    list of worker states (:class:`jq.worker.WorkerStatus` has these values)."""

    STARTED = "started"
    SUSPENDED = "suspended"
    BUSY = "busy"
    IDLE = "idle"

    @property
    def stored(self) -> bytes:
        """The state as a record holds it."""
        return self.value.encode()


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
    ``rate_limited`` when the job began waiting for a slot of its rate limit
    ``reserved``     the reservation's lease deadline; past it, the reservation
                     counts as abandoned and the job goes back to its queue
    ================ ==========================================================
    """

    QUEUE = "queue"
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"
    DEFERRED = "deferred"
    SCHEDULED = "scheduled"
    CANCELED = "canceled"
    #: Jobs waiting for a slot of their rate limit (see :class:`jq.broker.RateLimitStore`).
    RATE_LIMITED = "rate_limited"
    #: Queued jobs reserved by a worker, not started yet (see :class:`Reservation`).
    RESERVED = "reserved"


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
    """What a transition does for the jobs that depend on the job it moves (RQ's rules, plus one
    of jq's so that nothing waits forever): a :class:`Settlement` names it; a transition without
    one settles nobody, as ``NONE`` says (``delete_job`` takes a policy by itself).

    ``NONE``: nothing; they keep waiting for it (a job stopped or canceled: RQ releases nobody).
    ``FINISHED``: the job succeeded (or was canceled with ``enqueue_dependents``): it stops being
    an unmet dependency of each dependent. ``FAILED``: the job failed: it stops being an unmet
    dependency of the dependents whose :data:`ALLOW_FAILURE` field is ``b"1"``; every other
    dependent still deferred keeps waiting for it, listed among its dependents, so that the job,
    requeued and successful, releases it. ``VANISHED``: the job will never run again (its record
    is gone or going): it stops being an unmet dependency of every dependent; those that allow
    failure are released as under ``FAILED``, every other one is *canceled* (see below).

    A dependent whose unmet dependencies become none, whose record still exists and whose status is
    ``deferred`` is *released*: it moves from its origin's deferred registry to its origin queue
    (to the front when its :data:`ENQUEUE_AT_FRONT` field is ``b"1"``), gets
    :attr:`Transition.released_fields` and then status ``queued`` (written last: a released field
    never overrides it), and wakes a waiting claimer. A dependent whose :data:`SCHEDULED_AT` field
    is a time after :attr:`Settlement.now` (None: the broker's clock) goes to its origin's
    scheduled registry instead, scored by that time, with the released fields and then status
    ``scheduled``: a delayed job keeps its time.

    A canceled dependent (under ``VANISHED``: its record exists and its status is ``deferred``)
    moves from its origin's deferred registry to its origin's canceled registry, gets the
    settlement's :attr:`Cancellation.fields` and then status ``canceled``. It is kept for its own
    ``failure_ttl`` field (whole seconds as text) or else
    :attr:`Cancellation.default_failure_ttl`: a positive number is its registry score
    ``Settlement.now + ttl`` and the expiry of its record, results and dependency sets; a
    negative number keeps it forever (score ``inf``); zero deletes it at once (no registry
    entry). The cancellation cascades: a canceled job never runs, so its own dependents are
    settled as ``VANISHED`` in turn, and so on down the chain.

    A dependent stops being listed in the job's dependents once it no longer waits for the job:
    released, canceled, no longer deferred, or its record is gone. Under ``FINISHED`` and
    ``VANISHED`` that is all of them; under ``FAILED``, all but the deferred dependents that do not
    allow failure.
    """

    NONE = "none"
    FINISHED = "finished"
    FAILED = "failed"
    VANISHED = "vanished"


class RefusalReason(str, enum.Enum):
    """Why :meth:`Broker.enqueue` wrote nothing (see :class:`EnqueueOutcome`)."""

    #: A dependency has no record (its ids are in ``missing``). jq's drivers no longer refuse for
    #: this reason: a dependency with no record counts as met, as in RQ (see
    #: :meth:`Broker.enqueue`). Kept so that code that names it still runs.
    MISSING = "missing"
    #: The job would depend on itself through its dependencies' unmet dependencies.
    CYCLE = "cycle"
    #: ``unique`` was asked and a record with this id exists.
    DUPLICATE = "duplicate"
    #: ``once`` was given and its marker already reached that value.
    ALREADY = "already"
    #: Another request of the same :meth:`Broker.enqueue_many` batch was refused; this one would
    #: have gone through.
    BATCH = "batch"


# Not frozen, unlike the other types here: one is made per job enqueued, and a frozen dataclass
# sets each of its 12 fields through object.__setattr__: ~15,000 more instructions per request,
# 12 % of an enqueue_many batch's client instructions per job and 6 % of a one-by-one enqueue's
# (cachegrind, interleaved). No code changes a request once made.
@dataclass(slots=True)
class EnqueueRequest:
    """One job to store and place, see :meth:`Broker.enqueue`. Treat it as immutable.

    ``fields`` is the whole record except :data:`STATUS`, which the broker writes.
    ``record_ttl``: ``None`` or :data:`PERSIST` keeps the record until deleted; a positive number of
    seconds makes it expire (a queued job not started in time is dropped: claimers skip ids whose
    record is gone). ``depends_on`` lists job ids that must finish first. ``scheduled_at``, when
    given and the dependencies are met, places the job in the scheduled registry with that score
    instead of the queue. ``allow_failure`` counts a failed dependency as met.
    ``unique`` refuses the request while a record with the same id exists. ``once`` is a
    ``(marker name, value)`` pair: the request goes through only if the named marker is unset or
    below ``value``, and the marker is set to ``value`` in the same step (cron ticks use it so that
    each fires once, whoever fires it). ``group``: the job's id is added to that job group in the
    same step (only on a broker that stores groups: see :class:`jq.broker.GroupStore`).
    """

    job_id: str
    queue: str
    fields: Mapping[str, bytes]
    record_ttl: int | None = None
    at_front: bool = False
    depends_on: Sequence[str] = ()
    scheduled_at: float | None = None
    allow_failure: bool = False
    unique: bool = False
    once: tuple[str, float] | None = None
    group: str | None = None
    #: Advisory: fields of ``fields`` (the very same values) that other requests of the same
    #: batch share, in one mapping object for all of them. ``fields`` is always the whole record;
    #: a driver may send the shared fields once per batch instead of once per job.
    shared: Mapping[str, bytes] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class EnqueueOutcome:
    """What :meth:`Broker.enqueue` did.

    ``status`` is the status written (``queued``, ``deferred``, ``scheduled`` or
    ``rate_limited``), or ``None`` when
    the request was refused for ``reason`` (then nothing was written). ``missing`` is only filled
    with :attr:`RefusalReason.MISSING`, which jq's drivers no longer give.
    """

    status: str | None
    missing: tuple[str, ...] = ()
    reason: RefusalReason | None = None


@dataclass(frozen=True, slots=True)
class Reservation:
    """A queued job reserved for one caller (a worker that will run it soon), not started.

    A reserved job keeps status ``queued`` and is in no queue listing: it is in its queue's
    ``reserved`` registry (:attr:`PlaceKind.RESERVED`), scored by the reservation's lease deadline,
    and its record's :data:`EXECUTION` field holds ``execution_id``, which guards the reservation:
    starting the job (a claim given the reservation, see :meth:`Broker.claim`) or giving it back
    (a :class:`Transition` from the reserved registry with this execution id) is refused once
    the reservation is over. It is never ``started``, in a started registry, or a worker's
    current job until a claim starts it. For every call that takes a job out of its queue (a
    transition whose source is the queue, :meth:`Broker.delete_job` with the queue among its
    places, an enqueue that replaces the job, :meth:`Broker.empty_queue`,
    :meth:`Broker.delete_queue`), a reserved job is still in its queue: it leaves the reserved
    registry instead, and the reservation is over.

    The caller reads the job when a claim starts it (:attr:`Claimed.record`), not before: what a
    user saves on a reserved job meanwhile is what runs.
    """

    job_id: str
    queue: str
    execution_id: str


@dataclass(frozen=True, slots=True)
class Claimed:
    """A job a worker now owns: it is in the started registry of ``queue`` under a lease.

    ``record`` is the whole job record after the claim's fields were written. ``prior_status`` is
    the status the record had before the claim: ``queued``, unless the record was corrupt (no
    status, or one jq does not know) — the worker then fails the job instead of running it.

    For a claim given reservations (:attr:`ClaimRequest.reserved`): ``from_reserved`` is the
    1-based position in them of the reservation the claim started (0: the job came from a queue,
    and the caller holds none of those reservations any more); ``reservations`` are the jobs the
    claim reserved for the caller besides (:attr:`ClaimRequest.reserve`), in the order to run them.
    """

    job_id: str
    queue: str
    record: Record
    prior_status: bytes | None = Status.QUEUED.stored
    from_reserved: int = 0
    reservations: tuple[Reservation, ...] = ()


@dataclass(frozen=True, slots=True)
class WorkerUpdate:
    """Changes to a worker's record made in the same call as a claim or a transition, so that a
    worker keeps its record current without round trips of its own.

    Applied only when the worker's record exists (an expired worker is not brought back) and the
    call was not refused: ``fields`` are written, then ``increments`` added to numeric fields (a
    missing field counts as 0). With a claim, :data:`WORKER_CURRENT_JOB` is also set to the
    claimed job's id (nothing is written when no job was claimed).
    """

    name: str
    fields: Mapping[str, bytes] = field(default_factory=dict)
    increments: Mapping[str, float] = field(default_factory=dict)


#: The fields a claim writes, or a function returning them (called right before each attempt).
ClaimFields = Mapping[str, bytes] | Callable[[], Mapping[str, bytes]]


def claim_fields_now(fields: ClaimFields) -> Mapping[str, bytes]:
    """The fields of a claim attempt made now (see :data:`ClaimFields`)."""
    return fields() if callable(fields) else fields


#: A claim's lease deadline (by the store's clock, :meth:`Broker.now`: the maintenance that ends
#: expired leases compares it with that clock), or a function returning it (called right before
#: each attempt, so that a lease is as long as asked counted from the claim, however long the
#: claim waited or was prepared in advance).
ClaimLease = float | Callable[[], float]


def claim_lease_now(lease_until: ClaimLease) -> float:
    """The lease deadline of a claim attempt made now (see :data:`ClaimLease`)."""
    return lease_until() if callable(lease_until) else lease_until


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    """The arguments of :meth:`Broker.claim` (without ``wait``), for
    :meth:`Broker.finish_and_claim` and :meth:`Broker.transition_many`.

    ``reserved`` and ``reserve`` (see :meth:`Broker.claim`) are given only to a broker whose
    :attr:`~Broker.supports_reservations` is True.
    """

    queues: Sequence[str]
    fields: ClaimFields
    lease_until: ClaimLease
    worker: WorkerUpdate | None = None
    reserved: Sequence[Reservation] = ()
    reserve: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class ToQueue:
    """A move's target that is a queue: the job goes on ``queue``, at its back or (``at_front``)
    its front, and a claimer waiting on that queue wakes; the queue becomes known. A job with a
    rate limit and no free slot waits instead, on no queue (see :class:`RateLimitStore`)."""

    queue: str
    at_front: bool = False

    @property
    def place(self) -> Place:
        """The queue as a :class:`Place`."""
        return Place(PlaceKind.QUEUE, self.queue)


@dataclass(frozen=True, slots=True)
class ToRegistry:
    """A move's target that is a registry: the job is added to ``place`` (a registry, never a
    queue: that is :class:`ToQueue`) with ``score`` (what a score means in each registry:
    :class:`PlaceKind`)."""

    place: Place
    score: float

    def __post_init__(self) -> None:
        if self.place.kind is PlaceKind.QUEUE:
            raise ValueError(
                f"a registry target needs a registry, not queue {self.place.queue!r}: use ToQueue"
            )


#: Where a move puts the job: a queue or a registry.
Target = ToQueue | ToRegistry


@dataclass(frozen=True, slots=True)
class Move:
    """Where a transition takes the job from and where it puts it.

    ``source``: the place (queue or registry) the job must be in now; it is taken out of it. None:
    the caller states that the job is in no place (the driver does not look), or, with no target
    either, that the job stays where it is. ``target``: where it goes (None: no place).
    ``Move()`` leaves the job where it is.
    """

    source: Place | None = None
    target: Target | None = None


@dataclass(frozen=True, slots=True)
class RecordEdit:
    """What a transition changes on the job's record.

    ``fields`` are written onto it and then ``delete_fields`` removed from it. ``record_ttl``
    says how long the record lives from now on: :data:`KEEP` (None) leaves its expiry as it is,
    :data:`PERSIST` (or any negative number) removes the expiry, ``0`` deletes the record with its
    results and dependency sets at the end of the transition (after the dependents were settled),
    a positive number of seconds makes the record, its results and its dependency sets expire then.
    """

    fields: Mapping[str, bytes] = field(default_factory=dict)
    delete_fields: Sequence[str] = ()
    record_ttl: int | None = KEEP


@dataclass(frozen=True, slots=True)
class ResultEntry:
    """A result entry a transition adds: ``encoded`` is prepended to the job's result entries, of
    which the newest ``kept`` stay (at least 1; :data:`RESULTS_KEPT` by default). The entries
    share the record's expiry."""

    encoded: bytes
    kept: int = RESULTS_KEPT


@dataclass(frozen=True, slots=True)
class Cancellation:
    """What settling under :attr:`DependentsPolicy.VANISHED` does to each dependent it cancels:
    ``fields`` are written on it (then status ``canceled``), and it is kept for its own
    :data:`FAILURE_TTL` field or else ``default_failure_ttl`` seconds (negative: forever; 0: it is
    deleted at once)."""

    fields: Mapping[str, bytes] = field(default_factory=dict)
    default_failure_ttl: int = DEFAULT_FAILURE_TTL


@dataclass(frozen=True, slots=True)
class Settlement:
    """How a transition settles the jobs that depend on the job it moves (see
    :class:`DependentsPolicy`, which says what each policy does).

    ``policy``: ``FINISHED``, ``FAILED`` or ``VANISHED`` (a transition that settles nobody has no
    settlement: ``NONE`` is refused here). ``cancellation``: what a canceled dependent gets; given
    with ``VANISHED`` (the only policy that cancels) and only with it. ``now``: the time a
    released dependent's :data:`SCHEDULED_AT` is compared with, and a canceled dependent's score
    counts from; None: the broker's clock. The fields written on released dependents are the
    transition's :attr:`Transition.released_fields`.
    """

    policy: DependentsPolicy
    cancellation: Cancellation | None = None
    now: float | None = None

    def __post_init__(self) -> None:
        if self.policy is DependentsPolicy.NONE:
            raise ValueError("a Settlement needs a policy: a transition that settles nobody has none")
        if (self.cancellation is not None) != (self.policy is DependentsPolicy.VANISHED):
            raise ValueError("a Settlement has a Cancellation under the VANISHED policy, and only there")


def settlement_for(
    policy: DependentsPolicy,
    canceled_fields: Mapping[str, bytes] | None = None,
    default_failure_ttl: int = DEFAULT_FAILURE_TTL,
    now: float | None = None,
) -> Settlement | None:
    """The settlement under ``policy`` of a call that takes its parts one by one (as
    :meth:`Broker.delete_job` does): None under ``NONE``; the canceled fields and their default
    TTL make its cancellation under ``VANISHED`` and are not used under any other policy."""
    policy = DependentsPolicy(policy)
    if policy is DependentsPolicy.NONE:
        return None
    canceling = None
    if policy is DependentsPolicy.VANISHED:
        canceling = Cancellation(canceled_fields or {}, default_failure_ttl)
    return Settlement(policy, canceling, now)


@dataclass(frozen=True, slots=True)
class Transition:
    """One change of a job's state, made by :meth:`Broker.transition` as one atomic step: either
    every part below is applied, or (refused) nothing is written at all.

    ``job_id``: the job; its record must exist. ``move``: where it is taken from and put
    (:class:`Move`; by default it stays where it is). ``edit``: the changes to its record and
    its expiry (:class:`RecordEdit`). ``result``: a result entry to add (:class:`ResultEntry`).
    ``settlement``: what becomes of the jobs that depend on it (:class:`Settlement`; None: they
    keep waiting, untouched). ``released_fields``: written on each *other* job this step lets
    go: the dependents its settlement releases (see :class:`DependentsPolicy`), and the jobs
    waiting for a rate-limit slot it frees (see :class:`RateLimitStore`), with or without a
    settlement; the status the broker gives each is written after them. ``execution_id``: when
    given, must equal the record's :data:`EXECUTION` field: a late write from a stale execution
    is refused. ``leave_dependencies``: the job stops waiting
    for its own unmet dependencies: it leaves each one's list of dependents and its set of unmet
    dependencies is emptied (RQ's ``cancel(remove_from_dependencies=True)``). ``worker``: changes
    to a worker's record (see :class:`WorkerUpdate`). ``tally``: the execution's outcome, counted
    in its queue's history by a driver that keeps one (see :mod:`jq.broker.history`; a driver
    that keeps none ignores it).

    The step is refused when the record is missing, when the job is not in ``move.source``, or
    when ``execution_id`` does not match; otherwise the move, the record edit, the result, the
    dependencies left, the settlement, the expiry, the worker update and the tally are all made.
    """

    job_id: str
    move: Move = Move()
    edit: RecordEdit = RecordEdit(MappingProxyType({}))  # shared by every Transition: read-only
    result: ResultEntry | None = None
    settlement: Settlement | None = None
    released_fields: Mapping[str, bytes] = field(default_factory=dict)
    execution_id: str | None = None
    leave_dependencies: bool = False
    worker: WorkerUpdate | None = None
    tally: Tally | None = None


#: The place a job of each status is in, within its origin (stopped jobs are kept with the failed).
STATUS_PLACES: Final[Mapping[str, PlaceKind]] = MappingProxyType(
    {
        Status.QUEUED.value: PlaceKind.QUEUE,
        Status.STARTED.value: PlaceKind.STARTED,
        Status.FINISHED.value: PlaceKind.FINISHED,
        Status.FAILED.value: PlaceKind.FAILED,
        Status.STOPPED.value: PlaceKind.FAILED,
        Status.DEFERRED.value: PlaceKind.DEFERRED,
        Status.SCHEDULED.value: PlaceKind.SCHEDULED,
        Status.CANCELED.value: PlaceKind.CANCELED,
        Status.RATE_LIMITED.value: PlaceKind.RATE_LIMITED,
    }
)
#: Statuses of a job that has not ended yet.
PENDING_STATUSES: Final = frozenset(
    status.value
    for status in (Status.QUEUED, Status.DEFERRED, Status.SCHEDULED, Status.STARTED, Status.RATE_LIMITED)
)
