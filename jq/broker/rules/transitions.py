"""Registries and moves: :class:`jq.broker.RegistryStore` on a store.

A registry is the set :meth:`Collection.of` names for its place. :meth:`StoreRegistries.transition`
moves a job with its record, results, dependents and rate-limit slot in one atomic block, after
checking every reason to refuse.
"""

from __future__ import annotations

from collections.abc import Mapping

from jq.broker.contract import RegistryStore
from jq.broker.rules._base import StoreRules
from jq.broker.rules.dependents import add_dependent, leave_dependencies, settle_dependents, unmet
from jq.broker.rules.fields import DEFERRED, QUEUED, RATE_LIMITED, STARTED, limit_of
from jq.broker.rules.history import tally_in
from jq.broker.rules.places import holder
from jq.broker.rules.records import prepend_result
from jq.broker.rules.slots import after_move, to_queue
from jq.broker.rules.workers import apply_update, check_updates
from jq.broker.store import Collection, RecordKind, StoreTransaction
from jq.broker.types import (
    ENQUEUE_AT_FRONT,
    EXECUTION,
    PERSIST,
    STATUS,
    Cancellation,
    DependentsPolicy,
    Place,
    PlaceKind,
    Settlement,
    ToQueue,
    Transition,
)
from jq.defaults import DEFAULT_FAILURE_TTL

__all__ = ["StoreRegistries", "transition_in"]


def transition_in(tx: StoreTransaction, change: Transition, now: float) -> bool:
    """The move of :meth:`StoreRegistries.transition` inside a block whose worker updates were
    checked already; ``now`` is the store's clock."""
    job_id, source, target, edit = change.job_id, change.move.source, change.move.target, change.edit
    record = tx.read(RecordKind.JOB, job_id)
    if record is None:
        return False
    held_in = None if source is None else holder(tx, source, job_id)
    if source is not None and held_in is None:
        return False
    if change.execution_id is not None and record.get(EXECUTION) != change.execution_id.encode():
        return False

    limit, old_status = limit_of(record), record.get(STATUS)
    # A running job ended by another call than its execution's keeps its slot until its
    # lease runs out (its code may still be running): see RateLimitStore, rule 2.
    keep_until = None
    if limit is not None and old_status == STARTED and change.execution_id is None and source:
        keep_until = tx.score(Collection.of(source), job_id)
    if held_in is not None:
        tx.remove(held_in, job_id)
    placed = None
    if isinstance(target, ToQueue):
        placed = to_queue(tx, job_id, record, target.queue, at_front=target.at_front, now=now)
    elif target is not None:
        tx.add(Collection.of(target.place), job_id, target.score)
    record.update(edit.fields)
    if placed == RATE_LIMITED:
        record[STATUS] = placed  # it waits for a slot: not queued, whatever the fields say
    for name in edit.delete_fields:
        record.pop(name, None)
    tx.write(RecordKind.JOB, job_id, record, replace=True)
    if change.result is not None:
        prepend_result(tx, job_id, change.result.encoded, change.result.kept)
    if change.leave_dependencies:
        leave_dependencies(tx, job_id)
    if change.settlement is not None:
        settle_dependents(tx, job_id, change.settlement, change.released_fields, now)

    ttl = edit.record_ttl
    if ttl == 0:
        tx.delete(RecordKind.JOB, job_id)
    elif ttl is not None:
        # PERSIST (or any other negative number) clears the expiry, a positive one sets it.
        tx.expire(RecordKind.JOB, job_id, None if ttl <= PERSIST else now + ttl)
    new_status = None if ttl == 0 else record.get(STATUS)
    after_move(tx, job_id, limit, old_status, new_status, change.released_fields, now, keep_until)
    if change.worker is not None:
        apply_update(tx, change.worker)
    if change.tally is not None:
        tally_in(tx, change.tally, now)
    return True


class StoreRegistries(StoreRules, RegistryStore):
    """Registry reads and writes, transitions, promotions and orphans; each one atomic block."""

    def registry_ids(self, place: Place, start: int = 0, end: int = -1) -> list[str]:
        """Ids by ascending score, ``start`` to ``end`` inclusive."""
        with self.store.atomic() as tx:
            return tx.members(Collection.of(place), start, end)

    def registry_count(self, place: Place) -> int:
        """How many ids the registry holds."""
        with self.store.atomic() as tx:
            return tx.count(Collection.of(place))

    def registry_score(self, place: Place, job_id: str) -> float | None:
        """The id's score, or None."""
        with self.store.atomic() as tx:
            return tx.score(Collection.of(place), job_id)

    def registry_add(self, place: Place, job_id: str, score: float) -> None:
        """Add the id or update its score."""
        with self.store.atomic() as tx:
            tx.add(Collection.of(place), job_id, score)

    def registry_update_score(self, place: Place, job_id: str, score: float) -> bool:
        """A new score for an id that is there; whether it was."""
        with self.store.atomic() as tx:
            if tx.score(Collection.of(place), job_id) is None:
                return False
            tx.add(Collection.of(place), job_id, score)
            return True

    def registry_remove(self, place: Place, job_id: str) -> bool:
        """Remove the id; whether it was there."""
        with self.store.atomic() as tx:
            return tx.remove(Collection.of(place), job_id)

    def registry_expired(self, place: Place, before: float) -> list[str]:
        """Ids scored at or below ``before``, ascending."""
        with self.store.atomic() as tx:
            return tx.members(Collection.of(place), max_score=before)

    def registry_cleanup(self, place: Place, before: float) -> list[str]:
        """Remove and return the ids scored at or below ``before``."""
        registry = Collection.of(place)
        with self.store.atomic() as tx:
            expired = tx.members(registry, max_score=before)
            for job_id in expired:
                tx.remove(registry, job_id)
            return expired

    def transition(self, change: Transition) -> bool:
        """Move a job and update its record (and the worker's), or refuse writing nothing."""
        with self.store.atomic() as tx:
            check_updates(tx, [change.worker])
            return transition_in(tx, change, self.store.now())

    def settle_orphans(
        self,
        queue: str,
        *,
        released_fields: Mapping[str, bytes],
        canceled_fields: Mapping[str, bytes],
        default_failure_ttl: int = DEFAULT_FAILURE_TTL,
        now: float | None = None,
    ) -> list[str]:
        """Settle the deferred jobs of ``queue`` waiting for a job that has no record, as
        VANISHED; returns their ids."""
        deferred = Collection.of(Place(PlaceKind.DEFERRED, queue))
        canceling = Cancellation(canceled_fields, default_failure_ttl)
        vanished = Settlement(DependentsPolicy.VANISHED, canceling, now)
        with self.store.atomic() as tx:
            clock = self.store.now()
            settled: list[str] = []
            for child in tx.members(deferred):
                record = tx.read(RecordKind.JOB, child)
                if record is None:
                    tx.remove(deferred, child)
                    continue
                if record.get(STATUS) != DEFERRED:
                    continue
                gone = sorted(
                    parent for parent in unmet(tx, child) if tx.read(RecordKind.JOB, parent) is None
                )
                for parent in gone:
                    # The parent's dependents went with its record: settle this child as its
                    # dependent (a cascade may have settled it already; then nothing happens).
                    add_dependent(tx, parent, child)
                    settle_dependents(tx, parent, vanished, released_fields, clock)
                if gone:
                    settled.append(child)
            return settled

    def promote_scheduled(
        self, queue: str, now: float | None, fields: Mapping[str, bytes], limit: int = 100
    ) -> list[str]:
        """Queue up to ``limit`` due scheduled jobs in score order (due by the store's clock when
        ``now`` is None); returns the ids queued."""
        scheduled = Collection.of(Place(PlaceKind.SCHEDULED, queue))
        with self.store.atomic() as tx:
            clock = self.store.now()
            promoted: list[str] = []
            for job_id in tx.members(scheduled, max_score=clock if now is None else now):
                # The limit counts jobs queued: ids dropped on the way do not use it up.
                if len(promoted) >= limit:
                    break
                tx.remove(scheduled, job_id)
                record = tx.read(RecordKind.JOB, job_id)
                if record is None:
                    continue
                at_front = record.get(ENQUEUE_AT_FRONT) == b"1"
                record.update(fields)
                record[STATUS] = to_queue(tx, job_id, record, queue, at_front=at_front, now=clock)
                tx.write(RecordKind.JOB, job_id, record, replace=True)
                if record[STATUS] == QUEUED:
                    promoted.append(job_id)
            return promoted
