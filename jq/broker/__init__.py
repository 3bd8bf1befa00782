"""The broker contract: what jq's core asks of a storage driver, stated in queue meaning.

jq's core (``Queue``, ``Job``, ``Worker``, the registries) never talks to Redis or any other store
directly. It talks to a :class:`Broker`, and a driver implements one. jq ships two drivers:
``jq_backends.redis`` (production) and ``jq_backends.memory`` (one process, no server).

Conventions that every method follows:

* Job ids, queue names and worker names are ``str``; everything stored is ``bytes``. A job
  *record* is a flat mapping of field name to bytes (a Redis hash in the Redis driver). The core
  encodes and decodes every field; a driver reads only the fields this module names
  (:data:`STATUS`, :data:`ORIGIN`, :data:`EXECUTION`, :data:`ENQUEUE_AT_FRONT`,
  :data:`ALLOW_FAILURE`, :data:`FAILURE_TTL`, :data:`SCHEDULED_AT`, :data:`RATE_LIMIT_KEY`,
  :data:`RATE_LIMIT_CONCURRENCY`), and writes only :data:`STATUS` and :data:`SCHEDULED_AT` on
  its own.
* Times are Unix timestamps in seconds (``float``) by the store's clock (:meth:`Broker.now`),
  chosen by the core and passed in, so that a test can drive a clock and two machines whose own
  clocks disagree agree on what a score means. Record expiry (TTL), and a ``now`` the caller
  leaves as None, are the times a driver measures itself, by that same clock.
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
  release, ``rate_limited`` for a job whose rate limit makes it wait: see
  :class:`RateLimitStore`) is written last; fields given with the call never override it. A
  transition to a queue writes no status (the caller passes ``status`` in its fields), unless
  the job's rate limit makes it wait.
* Anything that puts an id on a queue makes the queue known (:meth:`Broker.queue_names`).

A transition that records an execution's outcome carries a :class:`Tally`, which a driver that
keeps history counts in the same step (:mod:`jq.broker.history`); :class:`MonitoringStore` reads
it back.

A third-party driver proves itself against :mod:`jq.testing`, the conformance suite jq's own
drivers pass.
"""

from jq.broker.base import Broker
from jq.broker.contract import (
    CommandSubscription,
    ControlStore,
    JobStore,
    QueueStore,
    RegistryStore,
    WorkerStore,
)
from jq.broker.history import Counts, Outcome, Resolution, Tally
from jq.broker.monitoring import MonitoringStore
from jq.broker.optional import GroupStore, PipelineWrites, RateLimitStore
from jq.broker.types import (
    ALLOW_FAILURE,
    ENQUEUE_AT_FRONT,
    EXECUTION,
    FAILURE_TTL,
    KEEP,
    ORIGIN,
    PENDING_STATUSES,
    PERSIST,
    RATE_LIMIT_CONCURRENCY,
    RATE_LIMIT_KEY,
    RESERVATION_STEP,
    RESULTS_KEPT,
    SCHEDULED_AT,
    STATUS,
    STATUS_PLACES,
    WORKER_CURRENT_JOB,
    WORKER_STATE,
    Cancellation,
    Claimed,
    ClaimFields,
    ClaimLease,
    ClaimRequest,
    DependentsPolicy,
    EnqueueOutcome,
    EnqueueRequest,
    Move,
    Place,
    PlaceKind,
    Record,
    RecordEdit,
    RefusalReason,
    Reservation,
    ResultEntry,
    Settlement,
    Status,
    Target,
    ToQueue,
    ToRegistry,
    Transition,
    WorkerState,
    WorkerUpdate,
    claim_fields_now,
    claim_lease_now,
    settlement_for,
)

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
    "Broker",
    "Cancellation",
    "ClaimFields",
    "ClaimLease",
    "ClaimRequest",
    "Claimed",
    "CommandSubscription",
    "ControlStore",
    "Counts",
    "DependentsPolicy",
    "EnqueueOutcome",
    "EnqueueRequest",
    "GroupStore",
    "JobStore",
    "MonitoringStore",
    "Move",
    "Outcome",
    "PipelineWrites",
    "Place",
    "PlaceKind",
    "QueueStore",
    "RateLimitStore",
    "Record",
    "RecordEdit",
    "RefusalReason",
    "RegistryStore",
    "Reservation",
    "Resolution",
    "ResultEntry",
    "Settlement",
    "Status",
    "Tally",
    "Target",
    "ToQueue",
    "ToRegistry",
    "Transition",
    "WorkerState",
    "WorkerStore",
    "WorkerUpdate",
    "claim_fields_now",
    "claim_lease_now",
    "settlement_for",
]
