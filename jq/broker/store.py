"""The store contract: the few operations a driver implements so that jq's rules run on it.

A driver author implements :class:`Store` (6 methods) and :class:`StoreTransaction` (10 methods):
records of fields, sets of members ordered by score, one atomic block, the store's clock, a wake-up
for blocked claimers, and commands to workers. :class:`jq.broker.rules.StoreBroker` turns a store
into a full :class:`~jq.broker.Broker`: every queue rule (the enqueue steps, dependencies, claims,
leases, retries' moves, results, expiry, rate limits, groups, workers, locks) is written once, there,
on top of these operations. A driver that can do a composite step faster in one call of its own
(the Redis driver runs one Lua script per state change) overrides that Broker method: the
conformance suite (:mod:`jq.testing.broker_suite`) holds both to the same results.

What is stored, in queue meaning:

* **Records** (:class:`RecordKind`): a flat mapping of field name to bytes, by kind and key: a
  job's record, its results, a worker's record, a lock, a marker, a control flag. A record may
  carry an expiry deadline; once the store's clock reaches it, the record is gone for every read.
  A record with no fields is no record.
* **Sets** (:class:`Collection`): members (``str``) each with a float score, read in ascending
  ``(score, member)`` order: a queue (scores are positions), a registry (scores are times), the ids
  a job waits for, the ids waiting for it, the names of known queues, a group's ids, a rate
  limit's slots and line, the live workers. Adding a member that is there changes its score.
  An empty set is no set.
* **What belongs to a job**: the :attr:`RecordKind.RESULTS` record and the
  :attr:`SetKind.DEPENDENTS` and :attr:`SetKind.DEPENDENCIES` sets keyed by a job's id belong to
  that job's :attr:`RecordKind.JOB` record: deleting it deletes them, and its expiry is theirs
  (when it expires they are gone with it, and an expiry set, moved or removed on it applies to
  them).

Atomicity: everything the core reads and writes for one broker call happens inside one
:meth:`Store.atomic` block, and blocks are *serializable*: each runs as if no other block, in this
process or another, ran at the same time. That is the whole of a driver's concurrency duty. The
core checks everything that can refuse before its first write in a block, so a store need not roll
back a block that raises (the memory store does not; the SQLite store does).
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from jq.broker.contract import CommandSubscription
from jq.broker.types import Place, PlaceKind, Record

__all__ = [
    "JOB_OWNED_RECORDS",
    "JOB_OWNED_SETS",
    "Collection",
    "QueueWatch",
    "RecordKind",
    "SetKind",
    "Store",
    "StoreTransaction",
]


class RecordKind(str, enum.Enum):
    """What a record holds; its key is given with it."""

    #: A job's record (key: the job id): the fields :mod:`jq.broker` names and the core's own.
    JOB = "job"
    #: A job's result entries (key: the job id): fields ``"0"``, ``"1"``... newest first.
    RESULTS = "results"
    #: A worker's record (key: its name), expiring unless its heartbeat moves the expiry.
    WORKER = "worker"
    #: A lock (key: its name): field ``token``, expiring when its holder stops extending it.
    LOCK = "lock"
    #: A marker of ``EnqueueRequest.once`` (key: its name): field ``value``, never expiring.
    MARKER = "marker"
    #: A flag coordinating workers (key ``suspended``: workers take no new job while it exists).
    CONTROL = "control"
    #: A queue's history of outcomes (see :mod:`jq.broker.history`): its totals (key: the
    #: queue), its counts per minute of one hour (key: ``<the hour's start>:<queue>``) and per
    #: hour of one day (key: ``<the day's start>:<queue>``), expiring as the history says.
    TOTALS = "totals"
    MINUTES = "minutes"
    HOURS = "hours"


class SetKind(str, enum.Enum):
    """What a set holds and what its scores mean; the set's name is given with it."""

    #: A queue's job ids (name: the queue); scores are positions, lowest first out.
    QUEUE = PlaceKind.QUEUE.value
    #: The registries of a queue (name: the queue), scored as :class:`~jq.broker.PlaceKind` says.
    STARTED = PlaceKind.STARTED.value
    FINISHED = PlaceKind.FINISHED.value
    FAILED = PlaceKind.FAILED.value
    DEFERRED = PlaceKind.DEFERRED.value
    SCHEDULED = PlaceKind.SCHEDULED.value
    CANCELED = PlaceKind.CANCELED.value
    RATE_LIMITED = PlaceKind.RATE_LIMITED.value
    #: The jobs reserved from a queue, not started yet (name: the queue; scored by the lease).
    RESERVED = PlaceKind.RESERVED.value
    #: Ids of the jobs waiting for a job (name: its id), in the order they began to wait.
    DEPENDENTS = "dependents"
    #: Ids of the unmet dependencies of a job (name: its id).
    DEPENDENCIES = "dependencies"
    #: Names of the known queues (name: ``""``).
    QUEUES = "queues"
    #: Ids of a job group (name: the group); names of the groups (kind GROUPS, name ``""``).
    GROUP = "group"
    GROUPS = "groups"
    #: A rate limit's slots (name: its key; scored by when taken or the lease they are kept to),
    #: its line of waiting ids (scored by place in line), and the keys in use (name ``""``;
    #: scored by the concurrency last asked for with the key).
    RATE_SLOTS = "rate_slots"
    RATE_LINE = "rate_line"
    RATE_KEYS = "rate_keys"
    #: Names of registered workers (name ``""``), and of those listening to a queue (name: it).
    WORKERS = "workers"
    QUEUE_WORKERS = "queue_workers"
    #: Names of the queues a worker listens to (name: the worker), so that it can leave each
    #: :attr:`QUEUE_WORKERS` set, and so that a worker that died and came back under the same
    #: name for other queues is not listed under its old ones.
    WORKER_QUEUES = "worker_queues"
    #: The records of counts of a queue's history (name: the queue; members ``<record kind>:<key>``,
    #: scored by when each expires), so that expired ones are dropped even if nobody reads them.
    HISTORY = "history"


#: The records and sets keyed by a job id that belong to that job's record (see the module).
JOB_OWNED_RECORDS = frozenset({RecordKind.RESULTS})
JOB_OWNED_SETS = frozenset({SetKind.DEPENDENTS, SetKind.DEPENDENCIES})

#: Place kinds and the set kinds that hold them (the same names).
_SET_OF_PLACE = {kind: SetKind(kind.value) for kind in PlaceKind}


@dataclass(frozen=True, slots=True)
class Collection:
    """One set: its kind and its name (a queue, a job id, a group, a rate-limit key, or ``""``)."""

    kind: SetKind
    name: str = ""

    @classmethod
    def of(cls, place: Place) -> Collection:
        """The set that holds a queue's or a registry's ids."""
        return cls(_SET_OF_PLACE[place.kind], place.queue)

    @property
    def owner(self) -> str | None:
        """The job id whose record this set belongs to, or None (see :data:`JOB_OWNED_SETS`)."""
        return self.name if self.kind in JOB_OWNED_SETS else None


class StoreTransaction(abc.ABC):
    """The reads and writes of one :meth:`Store.atomic` block; valid only inside it.

    Reads see the block's own writes. A record or set whose expiry deadline is at or before the
    store's clock (:meth:`Store.now`) is absent to every read, and so is everything that belongs to
    an expired job (see the module).
    """

    # -- records ----------------------------------------------------------------------------------

    @abc.abstractmethod
    def read(self, kind: RecordKind, key: str) -> Record | None:
        """A copy of the record's fields, or None when there is no record (or it expired)."""

    @abc.abstractmethod
    def write(
        self, kind: RecordKind, key: str, fields: Mapping[str, bytes], *, replace: bool = False
    ) -> None:
        """Write ``fields`` onto the record, creating it; with ``replace`` every other field goes.

        The expiry of an existing record is kept (an expired one is gone: a new record has none).
        Writing no fields with ``replace`` deletes the record's fields (it is then no record; what
        belongs to it stays).
        """

    @abc.abstractmethod
    def delete(self, kind: RecordKind, key: str) -> bool:
        """Delete the record, and for a job record everything that belongs to it. Whether a
        record was there."""

    @abc.abstractmethod
    def expire(self, kind: RecordKind, key: str, deadline: float | None) -> None:
        """Make the record expire at ``deadline`` (a :meth:`Store.now` time), or never (None);
        for a job record, everything that belongs to it too. No effect without a record."""

    @abc.abstractmethod
    def expiry(self, kind: RecordKind, key: str) -> float | None:
        """The record's expiry deadline; None when it never expires or there is no record."""

    # -- sets -------------------------------------------------------------------------------------

    @abc.abstractmethod
    def add(self, collection: Collection, member: str, score: float) -> None:
        """Add ``member`` with ``score``, or give it that score if it is there."""

    @abc.abstractmethod
    def remove(self, collection: Collection, member: str) -> bool:
        """Remove ``member``; whether it was there."""

    @abc.abstractmethod
    def score(self, collection: Collection, member: str) -> float | None:
        """The member's score, or None when it is not there."""

    @abc.abstractmethod
    def members(
        self,
        collection: Collection,
        start: int = 0,
        end: int = -1,
        *,
        max_score: float | None = None,
        reverse: bool = False,
    ) -> list[str]:
        """Members in ascending ``(score, member)`` order (descending with ``reverse``), those at
        ranks ``start`` to ``end`` *inclusive*, negative ranks counting from the end (Redis's
        ZRANGE rules). With ``max_score``, only members whose score is at or below it are ranked.
        """

    @abc.abstractmethod
    def count(self, collection: Collection) -> int:
        """How many members the set has."""


@runtime_checkable
class QueueWatch(Protocol):
    """A claimer's watch on queue pushes, see :meth:`Store.watch_queues`."""

    def wait(self, timeout: float) -> None:
        """Return when a block that added to a queue committed since the watch began or since the
        last return of this method, or after ``timeout`` seconds, whichever comes first.
        Returning early without a push is allowed (the claimer tries again)."""
        ...

    def close(self) -> None:
        """Stop watching."""
        ...


class Store(abc.ABC):
    """What a driver implements: see the module. Thread-safe: one instance is shared by threads.

    ``shares_across_processes``, ``transient_errors``, :meth:`ping` and :meth:`close` mean what
    they mean on :class:`~jq.broker.Broker`, which takes them from its store.
    """

    #: True when other processes that open the same URL see the same data.
    shares_across_processes: bool = True
    #: Exceptions meaning "the store cannot be reached right now; try again later".
    transient_errors: tuple[type[BaseException], ...] = ()

    @property
    @abc.abstractmethod
    def url(self) -> str:
        """A URL that names this store, without any password, for logs and the CLI."""

    @abc.abstractmethod
    def atomic(self) -> AbstractContextManager[StoreTransaction]:
        """A block of reads and writes, serializable with every other block (see the module).

        Blocks are never nested. Its writes are visible to others when it exits normally.
        """

    @abc.abstractmethod
    def now(self) -> float:
        """The store's clock (Unix seconds): the time expiry deadlines are compared with."""

    @abc.abstractmethod
    def watch_queues(self) -> QueueWatch:
        """Start watching for pushes onto any queue (adds to a :attr:`SetKind.QUEUE` set), so
        that a claimer that found every queue empty sleeps until one may have a job. A push that
        commits after this returns is never missed. Without polling where the store allows."""

    @abc.abstractmethod
    def publish(self, channel: str, payload: bytes) -> int:
        """Deliver ``payload`` to every handler subscribed to ``channel`` now; how many got it."""

    @abc.abstractmethod
    def subscribe(self, channel: str, handler: Callable[[bytes], None]) -> CommandSubscription:
        """Call ``handler(payload)`` for every payload published to ``channel`` until the
        subscription is closed, as :meth:`~jq.broker.ControlStore.subscribe_commands` describes."""

    def ping(self) -> None:
        """Check that the store answers; the default opens and closes an empty block."""
        with self.atomic():
            pass

    def close(self) -> None:  # optional for drivers, deliberately not abstract  # noqa: B027
        """Release what this store opened; the default does nothing."""
