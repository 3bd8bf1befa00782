"""The SQLite store: jq's records and sets in one database file, shared by the processes and
threads of one machine, with nothing but the standard library.

Tables: ``fields`` holds records, one row per field (a record with no fields is no record);
``deadlines`` the expiry of the records that have one; ``members`` the sets, one row per member
(an empty set is no set); ``pushes`` counts the blocks that pushed onto a queue.

Concurrency: every block is one ``BEGIN IMMEDIATE`` transaction, which takes the database's write
lock up front, so blocks run one at a time (serializable) and never fail half-way on a lock.
Other processes wait for it through SQLite's busy timeout. The threads of one process share one
connection behind a lock: a lock hands over in microseconds where the busy handler sleeps in
steps of up to 100 ms, and blocks that run one at a time gain nothing from more connections.
The database runs in WAL mode with ``synchronous=FULL`` by default: a block that returned is on
disk, even across a power loss. ``synchronous="normal"`` skips the sync at each commit: a crash of
any process still loses nothing committed, but a power loss may lose the last blocks (never the
database).

Expiry: reading, writing or expiring a record first drops it (and what belongs to it) if its
deadline has passed, and every block drops a few records nobody read past their deadline.
Wake-ups and commands between processes are datagrams (:mod:`jq_backends.sqlite.mailbox`).
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar

from jq.broker.contract import CommandSubscription
from jq.broker.store import (
    JOB_OWNED_RECORDS,
    JOB_OWNED_SETS,
    Collection,
    RecordKind,
    SetKind,
    Store,
    StoreTransaction,
)
from jq.broker.types import Record
from jq_backends.sqlite.mailbox import WATCH_PREFIX, Mailboxes, QueueWatch, Subscription

__all__ = ["SYNCHRONOUS", "SQLiteStore"]

_T = TypeVar("_T")

_SCHEMA = """
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS fields (
    kind TEXT NOT NULL, key TEXT NOT NULL, field TEXT NOT NULL, value BLOB NOT NULL,
    PRIMARY KEY (kind, key, field)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deadlines (
    kind TEXT NOT NULL, key TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deadlines_by_time ON deadlines (at);
CREATE TABLE IF NOT EXISTS members (
    kind TEXT NOT NULL, name TEXT NOT NULL, member TEXT NOT NULL, score REAL NOT NULL,
    PRIMARY KEY (kind, name, member)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS members_by_score ON members (kind, name, score, member);
CREATE TABLE IF NOT EXISTS pushes (id INTEGER PRIMARY KEY CHECK (id = 0), count INTEGER NOT NULL);
INSERT OR IGNORE INTO pushes VALUES (0, 0);
COMMIT;
"""

#: The durability settings a store takes (SQLite's ``synchronous`` pragma); the first is the default.
SYNCHRONOUS = ("full", "normal")

#: How many records past their deadline one block deletes without being asked to read them.
_SWEEP = 100

#: Connections a child forked in the middle of a block inherited: never used nor closed there
#: (closing could disturb the parent's transaction), kept so that nothing collects and closes them.
_INHERITED: list[sqlite3.Connection] = []
#: The stores of this process, closed around a fork (see :meth:`SQLiteStore._before_fork`).
_STORES: weakref.WeakSet[SQLiteStore] = weakref.WeakSet()


class SQLiteStore(Store):
    """jq's store in the SQLite database file at ``path`` (created if missing).

    ``timeout``: how long a block waits for another process's block before raising
    ``sqlite3.OperationalError`` ("database is locked"), one of :attr:`transient_errors`.
    ``synchronous``: ``"full"`` (the default: each block is synced to disk before it returns) or
    ``"normal"`` (faster; a power loss may lose the last blocks), see the module.
    """

    shares_across_processes = True
    transient_errors: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)

    def __init__(
        self, path: str | os.PathLike[str], *, timeout: float = 30.0, synchronous: str = "full"
    ) -> None:
        if os.fspath(path) in ("", ":memory:"):
            raise ValueError("SQLiteStore needs a database file: the processes of jq share it")
        if synchronous.lower() not in SYNCHRONOUS:
            raise ValueError(
                f"synchronous must be one of {', '.join(SYNCHRONOUS)}, not {synchronous!r}: 'full' keeps "
                "every acknowledged job across a power loss, 'normal' is faster and may lose the last ones"
            )
        self.synchronous = synchronous.lower()
        self.path = os.path.abspath(os.fspath(path))
        self._timeout = timeout
        self._lock = threading.Lock()
        self._forking = False
        self._ready = False
        self._db: sqlite3.Connection | None = None
        self._mailboxes = Mailboxes(self.path)
        self._subscriptions: weakref.WeakSet[Subscription] = weakref.WeakSet()
        _STORES.add(self)
        try:  # a bad path fails here, not at the first job, and says which path
            with self._connection():
                pass
        except sqlite3.OperationalError as error:
            raise sqlite3.OperationalError(f"{error}: {self.path}") from error

    @property
    def url(self) -> str:
        """``sqlite:///`` and the database's absolute path."""
        return f"sqlite:///{self.path}"

    def now(self) -> float:
        """The machine's clock: every process of the store shares it."""
        return time.time()

    def _retry(self, action: Callable[[], _T]) -> _T:
        # The busy timeout covers waiting for a lock, but SQLite answers "locked" at once in a few
        # cases (another connection recovering the WAL, or switching the journal mode).
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                return action()
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """This process's connection, held by the calling thread until the block exits."""
        with self._lock:
            if self._db is None:
                db = sqlite3.connect(
                    self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
                )
                try:
                    self._retry(lambda: db.execute("PRAGMA journal_mode=WAL"))
                    db.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
                    if not self._ready:
                        self._retry(lambda: db.executescript(_SCHEMA))
                except BaseException:
                    db.close()
                    raise
                self._db, self._ready = db, True
            yield self._db

    @contextmanager
    def atomic(self) -> Iterator[StoreTransaction]:
        """One ``BEGIN IMMEDIATE`` transaction: committed on a normal exit, else rolled back."""
        with self._connection() as db:
            self._retry(lambda: db.execute("BEGIN IMMEDIATE"))
            transaction = _Transaction(db, self.now())
            try:
                transaction.sweep()
                yield transaction
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        # After the commit, so that a woken claimer finds the job. The block is done whatever
        # happens here: a wake-up that fails to go out is seen on the push counter within 1 s.
        if transaction.pushed:
            with contextlib.suppress(OSError):
                self._mailboxes.send(WATCH_PREFIX, b"")

    def _pushes(self) -> int:
        with self._connection() as db:
            row = self._retry(lambda: db.execute("SELECT count FROM pushes").fetchone())
        return int(row[0])

    def watch_queues(self) -> QueueWatch:
        """A mailbox woken by every block that pushes onto a queue (see the module)."""
        return QueueWatch(self._mailboxes, self._pushes)

    def publish(self, channel: str, payload: bytes) -> int:
        """Send ``payload`` to the mailbox of each live subscription to ``channel``."""
        return self._mailboxes.publish(channel, payload)

    def subscribe(self, channel: str, handler: Callable[[bytes], None]) -> CommandSubscription:
        """A mailbox for ``channel`` whose listener thread calls ``handler``."""
        subscription = Subscription(self._mailboxes, channel, handler)
        self._subscriptions.add(subscription)
        return subscription

    def close(self) -> None:
        """Close the subscriptions made here and the connection (the next use opens another)."""
        for subscription in list(self._subscriptions):
            subscription.close()
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # SQLite keeps its own record of the file locks its connections hold, process-wide, and a fork
    # copies that record but not the locks: a child must not inherit any open connection, not even
    # to open another. So the parent closes its connection before a fork (after any block in
    # progress) and opens it again when next used; jq's workers fork a work horse per job.
    def _before_fork(self) -> None:
        self._forking = self._lock.acquire(timeout=self._timeout)
        if self._forking and self._db is not None:
            self._db.close()
            self._db = None

    def _after_fork(self, child: bool) -> None:
        if child:  # a block that was in progress is the parent's, not ours
            if self._db is not None:
                _INHERITED.append(self._db)
            self._db, self._lock = None, threading.Lock()
        elif self._forking:
            self._lock.release()
        self._forking = False


def _each_store(action: Callable[[SQLiteStore], None]) -> Callable[[], None]:
    def run() -> None:
        for store in list(_STORES):
            action(store)

    return run


os.register_at_fork(
    before=_each_store(SQLiteStore._before_fork),
    after_in_parent=_each_store(lambda store: store._after_fork(child=False)),
    after_in_child=_each_store(lambda store: store._after_fork(child=True)),
)


class _Transaction(StoreTransaction):
    """The reads and writes of one block, at the store's time when the block began."""

    def __init__(self, db: sqlite3.Connection, now: float) -> None:
        self._db = db
        self._now = now
        #: Whether the block added to a queue: the store wakes the watches after the commit.
        self.pushed = False
        # Records found not past their deadline in this block. The block's time does not move, and
        # a deadline set at or before it drops the record at once, so each is looked up once.
        self._checked: set[tuple[RecordKind, str]] = set()
        # Records as this block last read or wrote them (None: no record), so that a block that
        # reads one record several times (a worker's, in a finish-and-claim) queries it once.
        # Copies go in and out: callers change what they read.
        self._records: dict[tuple[RecordKind, str], Record | None] = {}

    def _sql(self, query: str, *args: object) -> sqlite3.Cursor:
        return self._db.execute(query, args)

    def sweep(self) -> None:
        """Drop a few records past their deadline, so that those nobody reads do not pile up."""
        due = self._sql("SELECT kind, key FROM deadlines WHERE at <= ? LIMIT ?", self._now, _SWEEP)
        for kind, key in due.fetchall():
            self._drop(RecordKind(kind), key)

    def _drop(self, kind: RecordKind, key: str) -> bool:
        """Delete a record, and for a job's what belongs to it; whether the record was there."""
        found = self._sql("DELETE FROM fields WHERE kind = ? AND key = ?", kind.value, key).rowcount
        self._records[(kind, key)] = None
        self._sql("DELETE FROM deadlines WHERE kind = ? AND key = ?", kind.value, key)
        if kind is RecordKind.JOB:
            for owned in JOB_OWNED_RECORDS:
                self._drop(owned, key)
            for owned_set in JOB_OWNED_SETS:
                self._sql("DELETE FROM members WHERE kind = ? AND name = ?", owned_set.value, key)
        return found > 0

    def _drop_if_due(self, kind: RecordKind, key: str) -> None:
        # Expiry is lazy: a record past its deadline, or owned by a job past it, goes when touched.
        if (kind, key) in self._checked:
            return
        if kind in JOB_OWNED_RECORDS:
            self._drop_if_due(RecordKind.JOB, key)
        row = self._sql("SELECT at FROM deadlines WHERE kind = ? AND key = ?", kind.value, key).fetchone()
        if row is not None and row[0] <= self._now:
            self._drop(kind, key)
        self._checked.add((kind, key))

    def _exists(self, kind: RecordKind, key: str) -> bool:
        query = "SELECT 1 FROM fields WHERE kind = ? AND key = ? LIMIT 1"
        return self._sql(query, kind.value, key).fetchone() is not None

    def read(self, kind: RecordKind, key: str) -> Record | None:
        self._drop_if_due(kind, key)
        if (kind, key) in self._records:
            known = self._records[(kind, key)]
            return None if known is None else dict(known)
        rows = self._sql("SELECT field, value FROM fields WHERE kind = ? AND key = ?", kind.value, key)
        record: Record | None = dict(rows.fetchall()) or None
        self._records[(kind, key)] = None if record is None else dict(record)
        return record

    def write(
        self, kind: RecordKind, key: str, fields: Mapping[str, bytes], *, replace: bool = False
    ) -> None:
        self._drop_if_due(kind, key)
        if replace:
            self._sql("DELETE FROM fields WHERE kind = ? AND key = ?", kind.value, key)
            if not fields:  # no record left, so no expiry
                self._sql("DELETE FROM deadlines WHERE kind = ? AND key = ?", kind.value, key)
        self._db.executemany(
            "INSERT OR REPLACE INTO fields VALUES (?, ?, ?, ?)",
            [(kind.value, key, field, value) for field, value in fields.items()],
        )
        known = self._records.get((kind, key))
        if replace or known is not None:
            record = {} if replace or known is None else known
            record.update(fields)
            self._records[(kind, key)] = record or None
        else:  # a record this block has not read (or found missing): read it from the table
            self._records.pop((kind, key), None)

    def delete(self, kind: RecordKind, key: str) -> bool:
        self._drop_if_due(kind, key)
        return self._drop(kind, key)

    def expire(self, kind: RecordKind, key: str, deadline: float | None) -> None:
        self._drop_if_due(kind, key)
        if not self._exists(kind, key):
            return
        if deadline is None:
            self._sql("DELETE FROM deadlines WHERE kind = ? AND key = ?", kind.value, key)
        elif deadline <= self._now:
            self._drop(kind, key)
        else:
            self._sql("INSERT OR REPLACE INTO deadlines VALUES (?, ?, ?)", kind.value, key, deadline)

    def expiry(self, kind: RecordKind, key: str) -> float | None:
        self._drop_if_due(kind, key)
        row = self._sql("SELECT at FROM deadlines WHERE kind = ? AND key = ?", kind.value, key).fetchone()
        return None if row is None else float(row[0])

    def _drop_owner_if_due(self, collection: Collection) -> None:
        if collection.owner is not None:
            self._drop_if_due(RecordKind.JOB, collection.owner)

    def add(self, collection: Collection, member: str, score: float) -> None:
        self._drop_owner_if_due(collection)
        query = "INSERT OR REPLACE INTO members VALUES (?, ?, ?, ?)"
        self._sql(query, collection.kind.value, collection.name, member, score)
        if collection.kind is SetKind.QUEUE and not self.pushed:
            self.pushed = True
            self._sql("UPDATE pushes SET count = count + 1")

    def remove(self, collection: Collection, member: str) -> bool:
        self._drop_owner_if_due(collection)
        query = "DELETE FROM members WHERE kind = ? AND name = ? AND member = ?"
        return self._sql(query, collection.kind.value, collection.name, member).rowcount > 0

    def score(self, collection: Collection, member: str) -> float | None:
        self._drop_owner_if_due(collection)
        query = "SELECT score FROM members WHERE kind = ? AND name = ? AND member = ?"
        row = self._sql(query, collection.kind.value, collection.name, member).fetchone()
        return None if row is None else float(row[0])

    def members(
        self,
        collection: Collection,
        start: int = 0,
        end: int = -1,
        *,
        max_score: float | None = None,
        reverse: bool = False,
    ) -> list[str]:
        self._drop_owner_if_due(collection)
        where = "kind = ? AND name = ? AND score <= ?"
        bound = math.inf if max_score is None else max_score
        args = (collection.kind.value, collection.name, bound)
        if start < 0 and end < 0:
            # Ranks from the end are ranks from the start of the opposite order: no count of the
            # whole set (a queue's push reads its last member on every enqueue).
            if end < start:
                return []
            order = "ASC" if reverse else "DESC"
            query = f"SELECT member FROM members WHERE {where} ORDER BY score {order}, member {order}"
            rows = self._sql(f"{query} LIMIT ? OFFSET ?", *args, end - start + 1, -end - 1)
            return [member for (member,) in rows.fetchall()][::-1]
        if start < 0 or end < 0:  # ranks from the end: they need how many are ranked
            size = int(self._sql(f"SELECT count(*) FROM members WHERE {where}", *args).fetchone()[0])
            start, end = (start + size if start < 0 else start), (end + size if end < 0 else end)
        start = max(start, 0)
        if end < start:
            return []
        order = "DESC" if reverse else "ASC"
        query = f"SELECT member FROM members WHERE {where} ORDER BY score {order}, member {order}"
        rows = self._sql(f"{query} LIMIT ? OFFSET ?", *args, end - start + 1, start)
        return [member for (member,) in rows.fetchall()]

    def count(self, collection: Collection) -> int:
        self._drop_owner_if_due(collection)
        query = "SELECT count(*) FROM members WHERE kind = ? AND name = ?"
        return int(self._sql(query, collection.kind.value, collection.name).fetchone()[0])
