"""The memory store: a :class:`~jq.broker.store.Store` kept in this process, under one lock.

Every atomic block holds one :class:`threading.Condition` from start to end, so blocks are
serializable by construction; a block that raises keeps the writes it made (the rules check
every refusal before writing). Expiry deadlines are compared with the store's clock (injectable,
so tests can drive it), taken once when a block starts; an expired record is purged the first
time anything looks at it, with everything that belongs to it for a job record. Blocked claimers
wait on the same condition, which a block that pushed onto a queue notifies when it ends.
Commands are handed to subscribers in the publishing thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from jq.broker import Record
from jq.broker.contract import CommandSubscription
from jq.broker.store import (
    JOB_OWNED_RECORDS,
    JOB_OWNED_SETS,
    Collection,
    QueueWatch,
    RecordKind,
    SetKind,
    Store,
    StoreTransaction,
)
from jq_backends.memory._scored import ScoredSet

__all__ = ["MemoryStore"]

logger = logging.getLogger("jq.broker.memory")

_JOB = RecordKind.JOB
_QUEUE = SetKind.QUEUE


class MemoryStore(Store):
    """Records, scored sets, expiry deadlines and command subscribers of one process.

    :param name: names the store in :attr:`url` (``memory://<name>``).
    :param clock: the store's clock (Unix seconds) for expiry; blocked claims still wait in real
        time.
    """

    shares_across_processes = False

    def __init__(self, name: str = "default", *, clock: Callable[[], float] = time.time) -> None:
        self._name = name
        self._clock = clock
        # One condition for every block and for the queue watch. Blocks are never nested, so a
        # plain lock: a nested block would be a bug, and it shows as a hang in tests at once.
        self._cond = threading.Condition(threading.Lock())
        self._records: dict[RecordKind, dict[str, Record]] = {kind: {} for kind in RecordKind}
        self._deadlines: dict[RecordKind, dict[str, float]] = {kind: {} for kind in RecordKind}
        self._sets: dict[Collection, ScoredSet] = {}
        # How many blocks pushed onto a queue: a watch wakes when it moves.
        self._pushes = 0
        self._channels: dict[str, list[_Subscription]] = {}

    @property
    def url(self) -> str:
        """``memory://<name>``."""
        return f"memory://{self._name}"

    def atomic(self) -> _Transaction:
        """A block holding the store's lock from ``with`` to its end."""
        return _Transaction(self)

    def now(self) -> float:
        """The store's clock."""
        return self._clock()

    def watch_queues(self) -> QueueWatch:
        """A watch woken by the end of every block that pushed onto a queue."""
        return _Watch(self)

    def ping(self) -> None:
        """Always answers: the store is this object."""

    # -- commands -----------------------------------------------------------------------------

    def publish(self, channel: str, payload: bytes) -> int:
        """Call each handler subscribed to ``channel`` now, in this thread; how many there were."""
        with self._cond:
            receivers = list(self._channels.get(channel, ()))
        # Outside the lock: a handler may well call back into the broker.
        for subscription in receivers:
            subscription.deliver(payload)
        return len(receivers)

    def subscribe(self, channel: str, handler: Callable[[bytes], None]) -> CommandSubscription:
        """Register ``handler`` for the payloads published to ``channel``."""
        subscription = _Subscription(self, channel, handler)
        with self._cond:
            self._channels.setdefault(channel, []).append(subscription)
        return subscription

    def _unsubscribe(self, subscription: _Subscription) -> None:
        with self._cond:
            others = [s for s in self._channels.get(subscription.channel, []) if s is not subscription]
            if others:
                self._channels[subscription.channel] = others
            else:
                self._channels.pop(subscription.channel, None)

    # -- for tests ----------------------------------------------------------------------------

    def snapshot(self) -> Any:
        """Everything the store holds, comparable with ``==`` (expired data included)."""
        with self._cond:
            return (
                {
                    kind: {key: dict(record) for key, record in table.items()}
                    for kind, table in self._records.items()
                },
                {kind: dict(deadlines) for kind, deadlines in self._deadlines.items()},
                {collection: members.copy() for collection, members in self._sets.items()},
            )


class _Transaction(StoreTransaction):
    """One block: the store's lock is held from ``__enter__`` to ``__exit__``."""

    __slots__ = ("_deadlines", "_now", "_pushed", "_records", "_sets", "_store")

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._records = store._records
        self._deadlines = store._deadlines
        self._sets = store._sets
        self._now = 0.0
        self._pushed = False

    def __enter__(self) -> _Transaction:
        self._store._cond.acquire()
        self._now = self._store._clock()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        store = self._store
        # Nothing is rolled back (the rules write only once nothing can refuse), so a push is
        # visible whether or not the block raised: wake the watchers either way.
        if self._pushed:
            store._pushes += 1
            store._cond.notify_all()
        store._cond.release()

    # -- expiry -------------------------------------------------------------------------------

    def _expired(self, kind: RecordKind, key: str) -> bool:
        """Whether the record's deadline passed; then it is purged (a job's with what is its)."""
        deadline = self._deadlines[kind].get(key)
        if deadline is None or deadline > self._now:
            return False
        self._purge(kind, key)
        return True

    def _purge(self, kind: RecordKind, key: str) -> None:
        self._records[kind].pop(key, None)
        self._deadlines[kind].pop(key, None)
        if kind is _JOB:
            for owned in JOB_OWNED_RECORDS:
                self._records[owned].pop(key, None)
            for set_kind in JOB_OWNED_SETS:
                self._sets.pop(Collection(set_kind, key), None)

    def _live(self, kind: RecordKind, key: str) -> Record | None:
        if kind in JOB_OWNED_RECORDS:
            self._expired(_JOB, key)  # what belongs to an expired job went with it
        record = self._records[kind].get(key)
        if record is None or self._expired(kind, key):
            return None
        return record

    # -- records ------------------------------------------------------------------------------

    def read(self, kind: RecordKind, key: str) -> Record | None:
        """A copy of the record, or None."""
        record = self._live(kind, key)
        return None if record is None else dict(record)

    def write(
        self, kind: RecordKind, key: str, fields: Mapping[str, bytes], *, replace: bool = False
    ) -> None:
        """Write fields onto the record (creating it), or replace its fields."""
        record = self._live(kind, key)
        if record is not None and not replace:
            record.update(fields)
        elif fields:
            if record is None:
                self._deadlines[kind].pop(key, None)  # a new record has no expiry
            self._records[kind][key] = dict(fields)
        elif record is not None:
            # No fields: no record (what belongs to a job's record stays).
            del self._records[kind][key]
            self._deadlines[kind].pop(key, None)

    def delete(self, kind: RecordKind, key: str) -> bool:
        """Delete the record (a job's with everything that belongs to it)."""
        existed = self._live(kind, key) is not None
        self._purge(kind, key)
        return existed

    def expire(self, kind: RecordKind, key: str, deadline: float | None) -> None:
        """Set or remove the record's deadline (a job's covers what belongs to it)."""
        if self._live(kind, key) is None:
            return
        if deadline is None:
            self._deadlines[kind].pop(key, None)
        else:
            self._deadlines[kind][key] = deadline

    def expiry(self, kind: RecordKind, key: str) -> float | None:
        """The record's deadline, or None."""
        if self._live(kind, key) is None:
            return None
        return self._deadlines[kind].get(key)

    # -- sets ---------------------------------------------------------------------------------

    def _set(self, collection: Collection) -> ScoredSet | None:
        if collection.kind in JOB_OWNED_SETS:
            self._expired(_JOB, collection.name)  # what belongs to an expired job went with it
        return self._sets.get(collection)

    def add(self, collection: Collection, member: str, score: float) -> None:
        """Add the member or change its score; an add to a queue wakes watchers at the end."""
        members = self._set(collection)
        if members is None:
            members = self._sets[collection] = ScoredSet()
        members.add(member, score)
        if collection.kind is _QUEUE:
            self._pushed = True

    def remove(self, collection: Collection, member: str) -> bool:
        """Remove the member; an empty set is no set."""
        members = self._set(collection)
        if members is None or not members.remove(member):
            return False
        if not members:
            del self._sets[collection]
        return True

    def score(self, collection: Collection, member: str) -> float | None:
        """The member's score, or None."""
        members = self._set(collection)
        return None if members is None else members.score(member)

    def members(
        self,
        collection: Collection,
        start: int = 0,
        end: int = -1,
        *,
        max_score: float | None = None,
        reverse: bool = False,
    ) -> list[str]:
        """Members by rank, as :meth:`StoreTransaction.members` says."""
        members = self._set(collection)
        return [] if members is None else members.members(start, end, max_score, reverse)

    def count(self, collection: Collection) -> int:
        """How many members the set has."""
        members = self._set(collection)
        return 0 if members is None else len(members)


class _Watch:
    """Wakes when a block that pushed onto a queue ends after the watch began (or after the last
    wake-up)."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        with store._cond:
            self._seen = store._pushes

    def wait(self, timeout: float) -> None:
        """Return after a push, or after ``timeout`` seconds."""
        store = self._store
        with store._cond:
            store._cond.wait_for(lambda: store._pushes != self._seen, timeout)
            self._seen = store._pushes

    def close(self) -> None:
        """Nothing to release."""


class _Subscription:
    """One handler for one channel; calls to it never overlap."""

    def __init__(self, store: MemoryStore, channel: str, handler: Callable[[bytes], None]) -> None:
        self._store = store
        self.channel = channel
        self._handler = handler
        self._lock = threading.Lock()
        self._closed = False

    def deliver(self, payload: bytes) -> None:
        """Call the handler unless the subscription was closed; log what it raises."""
        with self._lock:
            if self._closed:
                return
            try:
                self._handler(payload)
            except Exception:
                logger.exception("a command handler on channel %s failed", self.channel)

    def close(self) -> None:
        """Stop receiving; waits for a delivery in progress to end."""
        with self._lock:
            self._closed = True
        self._store._unsubscribe(self)
