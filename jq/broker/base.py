"""The :class:`Broker`: every concern of the contract in one class, and the broker's identity
(see :mod:`jq.broker`)."""

from __future__ import annotations

import abc
import time
from collections.abc import Sequence
from typing import Any

from jq.broker.contract import ControlStore, JobStore, QueueStore, RegistryStore, WorkerStore
from jq.broker.monitoring import MonitoringStore
from jq.broker.optional import GroupStore, PipelineWrites, RateLimitStore
from jq.broker.types import (
    EXECUTION,
    Claimed,
    ClaimRequest,
    Place,
    Transition,
    WorkerUpdate,
    claim_fields_now,
)
from jq.exceptions import UnsupportedByBrokerError

__all__ = ["Broker"]


class Broker(
    JobStore,
    QueueStore,
    RegistryStore,
    WorkerStore,
    ControlStore,
    GroupStore,
    RateLimitStore,
    MonitoringStore,
    abc.ABC,
):
    """The storage and messaging a job queue needs, in queue meaning.

    A broker is thread-safe: one instance may be shared by a producer thread and a worker thread.

    Its methods are grouped by concern in :class:`JobStore`, :class:`QueueStore`,
    :class:`RegistryStore`, :class:`WorkerStore` and :class:`ControlStore` (required), and
    :class:`GroupStore`, :class:`RateLimitStore` and :class:`MonitoringStore` (optional); this
    class adds the
    broker's identity: its client, its URL, its key names, :meth:`ping` and :meth:`close`. A
    driver subclasses this class (``isinstance(x, Broker)`` is how the core recognizes one); jq's
    own drivers do so through one mixin per concern.
    """

    #: True when separate processes (a forked work horse, other machines) see the same data.
    #: A broker that says False is refused, with a clear error, by anything that needs processes.
    shares_across_processes: bool = True

    #: True when the broker reserves jobs (:meth:`reserve`, and the ``reserved`` and ``reserve``
    #: arguments of :meth:`claim`): workers then take jobs in batches from deep queues. A driver
    #: written before reservations says False, and its workers claim one job at a time.
    supports_reservations: bool = False

    #: Exceptions that mean "the store cannot be reached right now; try again later" (a lost
    #: connection, a timeout, a server still loading). Workers catch these, wait with a capped
    #: back-off and carry on; anything else is a real error.
    transient_errors: tuple[type[BaseException], ...] = ()

    #: Those of :attr:`transient_errors` that mean "the store is full": it answers, but refuses
    #: to keep more until room is made (Redis at ``maxmemory``). Workers wait them out as the
    #: others, saying that the store is full rather than unreachable.
    full_errors: tuple[type[BaseException], ...] = ()

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

    def same_store_as(self, other: Broker) -> bool:
        """Whether ``other`` reaches the very jobs this broker does: the same store (a server and
        database, a file) under the same key names, whatever the options of its client
        (timeouts, pools). A worker's queues and a job's dependencies must be in one store.

        By default, only this broker itself; a driver whose store other objects reach too (a
        Redis server, through each of its clients) says which.
        """
        return other is self

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

    # The key names below are optional for drivers (a driver written before them still loads):
    # jq reports them where RQ code reads RQ's (``job.dependents_key``...), never stores by them.

    def results_key(self, job_id: str) -> str:
        """The key of the job's result entries (``jq:results:<id>``)."""
        raise UnsupportedByBrokerError(f"{type(self).__name__} does not name its keys of results")

    def dependents_key(self, job_id: str) -> str:
        """The key of the ids of the jobs waiting for the job (``jq:dependents:<id>``)."""
        raise UnsupportedByBrokerError(f"{type(self).__name__} does not name its keys of dependents")

    def dependencies_key(self, job_id: str) -> str:
        """The key of the ids of the job's unmet dependencies (``jq:dependencies:<id>``)."""
        raise UnsupportedByBrokerError(f"{type(self).__name__} does not name its keys of dependencies")

    def group_key(self, name: str) -> str:
        """The key of a job group's ids (``jq:group:<name>``)."""
        raise UnsupportedByBrokerError(f"{type(self).__name__} does not name its keys of groups")

    def queues_key(self) -> str:
        """The key of the names of the known queues (``jq:queues``)."""
        raise UnsupportedByBrokerError(f"{type(self).__name__} does not name its key of queue names")

    def pipeline_writes(self, pipeline: Any) -> PipelineWrites:
        """The writes to queue on ``pipeline``, a pipeline (transaction) of this broker's own
        client, so that they are made when the caller executes it, with the caller's other
        commands: RQ's ``pipeline=`` argument (``queue.enqueue(..., pipeline=pipe)``).

        Optional for drivers: the default refuses with :class:`UnsupportedByBrokerError`, as a
        driver without pipelines must. The Redis driver takes a redis-py pipeline of its client.
        """
        raise UnsupportedByBrokerError(
            f"{type(self).__name__} has no pipelines, so pipeline= cannot be used with it (it takes "
            "a redis-py pipeline of the Redis driver's client): leave pipeline= out and each write "
            "is made at once"
        )

    @abc.abstractmethod
    def ping(self) -> None:
        """Check that the store answers; raise the driver's connection error if not."""

    def now(self) -> float:
        """The store's clock now, in seconds since the epoch: the one clock that times compared
        across processes follow (leases, due times, cron ticks, registries' expiry scores).

        Cheap: no round trip per call (a remote store's driver reads its time once and follows it
        with the local monotonic clock, see :class:`jq.broker.clock.StoreClock`). Optional for
        drivers, deliberately not abstract: this default is the process's own :func:`time.time`,
        right only for a store that every process reads on one machine; a driver for a store
        shared across machines overrides it with the store's clock.
        """
        return time.time()

    def close(self) -> None:  # optional for drivers, deliberately not abstract
        """Release connections this broker opened itself. The default does nothing."""

    def preflight(self) -> Sequence[str]:
        """Check, as a worker starts, that the store lets it do its work; return warnings to log.

        Raise :class:`jq.exceptions.StorePermissionError` naming what is missing and what to grant
        when the store refuses an operation a worker needs (the Redis driver tries each kind of
        command on keys and channels of its own, which an ACL user may be denied). Return one line
        per setting of the store that puts jobs at risk (Redis: an eviction policy that may delete
        keys). Optional for drivers: the default checks nothing and returns no warning.
        """
        return ()

    def finish_and_claim(self, change: Transition, claim: ClaimRequest) -> tuple[bool, Claimed | None]:
        """:meth:`transition` then :meth:`claim` (without waiting), in one round trip where the
        store allows: a worker records a job's outcome and takes its next job at once.

        Each part is atomic as documented; the pair need not be. The claim happens whether or not
        the transition was refused. Returns (whether the transition was made, the claimed job).
        The default makes two calls; drivers override it.
        """
        moved = self.transition(change)
        return moved, self._claim_request(claim)

    def transition_many(
        self, changes: Sequence[Transition], claim: ClaimRequest | None = None
    ) -> tuple[list[bool], Claimed | None]:
        """:meth:`transition` for each of ``changes``, in order, then (with ``claim``) a
        :meth:`claim` that never waits, in one round trip where the store allows: a worker records
        several outcomes, or gives back several reservations, at once.

        Each change is made or refused on its own, as :meth:`transition` makes or refuses it (a
        refused change writes nothing and does not stop the others), and sees the changes before
        it; the claim happens whatever they did. jq's drivers make the whole call ATOMIC (one
        script, one block) and check every worker update before writing anything. Returns whether
        each change was made, in order, and the claimed job. This default makes one call per part
        (each atomic, the whole not); drivers override it.
        """
        moved = [self.transition(change) for change in changes]
        return moved, None if claim is None else self._claim_request(claim)

    def claim_many(
        self, claim: ClaimRequest, execution_ids: Sequence[str], *, list_field: str = ""
    ) -> list[Claimed]:
        """Claim up to ``len(execution_ids)`` jobs, each started as :meth:`claim` starts one, as
        that many claims that never wait made one after the other would: the jobs of the first of
        ``claim.queues`` first, in queue order, then the next queue's. The ``i``-th job claimed
        gets ``claim.fields`` with ``execution_ids[i]`` as its :data:`EXECUTION`. Stops at the
        first claim that finds every queue empty. Returns the jobs claimed, in that order.

        A worker that has several free slots takes that many jobs in one round trip: every job
        returned is started at once (none is held back unstarted). ``claim.reserved`` and
        ``claim.reserve`` must be empty (ValueError).

        ``claim.worker`` is applied as :meth:`claim` applies it, with the last job claimed
        (nothing when none was): its :data:`WORKER_CURRENT_JOB` is the last job's id. With
        ``list_field`` (a field among the update's fields: ids separated by commas), the ids of
        the jobs claimed before the last are appended to the value the update writes there, so
        that the field and :data:`WORKER_CURRENT_JOB` name every job claimed.

        jq's drivers make it ATOMIC (one block, one script), the update applied once. This
        default makes one claim per job (each atomic, the whole not; the update applied with
        each, its increments added each time); drivers override it.
        """
        check_plain_claim(claim)
        claimed: list[Claimed] = []
        fields = claim_fields_now(claim.fields)
        for execution in execution_ids:
            worker = claim.worker
            if worker is not None and list_field:
                worker = with_listed(worker, list_field, [item.job_id for item in claimed])
            one = self.claim(
                claim.queues, {**fields, EXECUTION: execution.encode()}, claim.lease_until, worker=worker
            )
            if one is None:
                break
            claimed.append(one)
        return claimed

    def _claim_request(self, claim: ClaimRequest) -> Claimed | None:
        """:meth:`claim` with a request's arguments (the reservation parts only when given: a
        driver written before them does not take them)."""
        if claim.reserved or claim.reserve:
            return self.claim(claim.queues, claim.fields, claim.lease_until, worker=claim.worker,
                              reserved=claim.reserved, reserve=claim.reserve)  # fmt: skip
        return self.claim(claim.queues, claim.fields, claim.lease_until, worker=claim.worker)

    def place_counts(self, places: Sequence[Place]) -> list[int]:
        """How many ids each place holds, in the order given: :meth:`queue_length` for a queue,
        :meth:`registry_count` for a registry. This is what an overview of many queues reads
        (``jqueue info``, the dashboard): every count of every queue at once.

        Not atomic: each count is of its own moment. Optional for drivers: the default asks once
        per place; the Redis driver asks in one pipeline (one round trip for all).
        """
        return [
            self.queue_length(place.queue) if place.is_queue else self.registry_count(place)
            for place in places
        ]

    def queue_heads(self, queues: Sequence[str]) -> list[str | None]:
        """The id at the front of each queue (the next one a claim takes), None for an empty
        queue, in the order given: how long the front job has waited is the queue's latency.

        Not atomic. Optional for drivers: the default asks once per queue; the Redis driver asks
        in one pipeline.
        """
        heads: list[str | None] = []
        for queue in queues:
            ids = self.queue_job_ids(queue, 0, 0)
            heads.append(ids[0] if ids else None)
        return heads


def check_plain_claim(claim: ClaimRequest) -> None:
    """:meth:`Broker.claim_many` takes no reservations."""
    if claim.reserved or claim.reserve:
        raise ValueError("claim_many() takes a claim without reservations (reserved=, reserve=)")


def with_listed(update: WorkerUpdate, field: str, ids: Sequence[str]) -> WorkerUpdate:
    """``update`` with ``ids`` appended to the comma-separated list it writes in ``field`` (see
    :meth:`Broker.claim_many`)."""
    if not ids:
        return update
    before = update.fields.get(field, b"")
    added = ",".join(ids).encode()
    listed = before + b"," + added if before else added
    return WorkerUpdate(update.name, {**update.fields, field: listed}, update.increments)
