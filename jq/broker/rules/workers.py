"""Workers: :class:`jq.broker.WorkerStore` on a store, and the worker updates that claims and
transitions make in their own blocks (:class:`jq.broker.WorkerUpdate`).

A worker is its :attr:`RecordKind.WORKER` record, expiring unless heartbeats move its expiry. Its
name is indexed in :attr:`SetKind.WORKERS` and in the :attr:`SetKind.QUEUE_WORKERS` set of each
queue it listens to; :attr:`SetKind.WORKER_QUEUES` lists those queues, so that the worker can
leave each index. Indexes outlive a worker whose record expired: readers check the record (and,
for a queue's index, that the worker still lists that queue: it may have come back under the same
name for other queues) and prune what is dead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from jq.broker.contract import WorkerStore
from jq.broker.rules._base import StoreRules
from jq.broker.rules.fields import format_number
from jq.broker.store import Collection, RecordKind, SetKind, StoreTransaction
from jq.broker.types import WORKER_CURRENT_JOB, Record, WorkerUpdate

__all__ = ["PRESENCE_FIELD", "StoreWorkers", "apply_update", "check_updates"]

#: The field that keeps an otherwise empty worker record in existence (a record with no fields
#: is no record): an empty name, which no field of the core has. Readers leave it out.
PRESENCE_FIELD = ""

_ALL_WORKERS = Collection(SetKind.WORKERS)


def _queues_of(name: str) -> Collection:
    return Collection(SetKind.WORKER_QUEUES, name)


def _workers_of(queue: str) -> Collection:
    return Collection(SetKind.QUEUE_WORKERS, queue)


def check_updates(tx: StoreTransaction, updates: Sequence[WorkerUpdate | None]) -> None:
    """Raise ValueError when an increment of one of ``updates`` (applied in order, None
    skipped) would add to a field of a live worker that holds no number.

    Callers check every update of a call before writing anything, so that a bad increment
    leaves the whole call unwritten (a store need not roll back a block that raises).
    """
    seen: dict[str, Record] = {}
    for update in updates:
        if update is None:
            continue
        if update.name not in seen:
            record = tx.read(RecordKind.WORKER, update.name)
            if record is None:
                continue
            seen[update.name] = record
        record = seen[update.name]
        record.update(update.fields)
        for key in update.increments:
            current = record.get(key)
            if current is not None:
                try:
                    float(current)
                except ValueError:
                    raise ValueError(f"worker field {key!r} is not a number: {current!r}") from None
            record[key] = b"0"


def apply_update(tx: StoreTransaction, update: WorkerUpdate, current_job: str | None = None) -> None:
    """Write the update's fields and :data:`WORKER_CURRENT_JOB` (``current_job``, when given: it
    wins over a field of that name), then add its increments; nothing when the worker is gone.
    Its expiry is left alone. The Redis driver writes in the same order.

    Expects :func:`check_updates` to have passed.
    """
    record = tx.read(RecordKind.WORKER, update.name)
    if record is None:
        return
    record.update(update.fields)
    if current_job is not None:
        record[WORKER_CURRENT_JOB] = current_job.encode()
    for key, amount in update.increments.items():
        current = record.get(key)
        record[key] = format_number((float(current) if current is not None else 0.0) + amount)
    tx.write(RecordKind.WORKER, update.name, record)


def _forget(tx: StoreTransaction, name: str) -> None:
    """Take a worker's name out of every index and forget its queues (its record is left)."""
    for queue in tx.members(_queues_of(name)):
        tx.remove(_workers_of(queue), name)
        tx.remove(_queues_of(name), queue)
    tx.remove(_ALL_WORKERS, name)


class StoreWorkers(StoreRules, WorkerStore):
    """Worker records and their indexes; each method one atomic block."""

    def register_worker(
        self, name: str, fields: Mapping[str, bytes], queues: Sequence[str], ttl: float
    ) -> bool:
        """Register a worker; False (nothing written) when a live one has the name."""
        with self.store.atomic() as tx:
            if tx.read(RecordKind.WORKER, name) is not None:
                return False
            now = self.store.now()
            # A dead worker of this name may have left index entries behind.
            _forget(tx, name)
            tx.write(RecordKind.WORKER, name, dict(fields) or {PRESENCE_FIELD: b""}, replace=True)
            tx.expire(RecordKind.WORKER, name, now + ttl)
            tx.add(_ALL_WORKERS, name, 0.0)
            for queue in queues:
                tx.add(_queues_of(name), queue, 0.0)
                tx.add(_workers_of(queue), name, 0.0)
            return True

    def heartbeat_worker(
        self,
        name: str,
        fields: Mapping[str, bytes],
        ttl: float,
        increments: Mapping[str, float] | None = None,
    ) -> bool:
        """Keep a live worker alive, write ``fields``, then add ``increments``; False (nothing
        written) when it is gone. Raises ValueError, writing nothing, for an increment of a field
        that holds no number."""
        with self.store.atomic() as tx:
            if tx.read(RecordKind.WORKER, name) is None:
                return False
            update = WorkerUpdate(name, fields, increments or {})
            check_updates(tx, [update])
            apply_update(tx, update)
            tx.expire(RecordKind.WORKER, name, self.store.now() + ttl)
            return True

    def unregister_worker(self, name: str) -> None:
        """Delete the worker's record and take it out of every index."""
        with self.store.atomic() as tx:
            tx.delete(RecordKind.WORKER, name)
            _forget(tx, name)

    def worker_names(self, queue: str | None = None) -> list[str]:
        """Live workers' names (of those listening to ``queue`` when given), sorted; dead
        entries of the index read are pruned."""
        index = _ALL_WORKERS if queue is None else _workers_of(queue)
        with self.store.atomic() as tx:
            live: list[str] = []
            for name in tx.members(index):  # one score for all: sorted by name
                alive = tx.read(RecordKind.WORKER, name) is not None
                if alive and queue is not None:
                    alive = tx.score(_queues_of(name), queue) is not None
                if alive:
                    live.append(name)
                elif queue is None:
                    _forget(tx, name)
                else:
                    tx.remove(index, name)
            return live

    def load_workers(self, names: Sequence[str]) -> list[Record | None]:
        """The workers' records in the order given, None for each one gone."""
        with self.store.atomic() as tx:
            records = [tx.read(RecordKind.WORKER, name) for name in names]
        for record in records:
            if record is not None:
                record.pop(PRESENCE_FIELD, None)
        return records
