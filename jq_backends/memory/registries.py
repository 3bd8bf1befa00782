"""The memory driver's registries and moves: :class:`jq.broker.RegistryStore` over scored sets."""

from __future__ import annotations

from collections.abc import Mapping

from jq.broker import (
    ENQUEUE_AT_FRONT,
    EXECUTION,
    PERSIST,
    STATUS,
    DependentsPolicy,
    Place,
    PlaceKind,
    RegistryStore,
    Transition,
)
from jq.defaults import DEFAULT_FAILURE_TTL
from jq_backends.memory import _slots
from jq_backends.memory._base import DEFERRED, QUEUED, STARTED, MemoryState
from jq_backends.memory._tables import redis_range

__all__ = ["MemoryRegistries"]


class MemoryRegistries(MemoryState, RegistryStore):
    """Registry reads and writes, transitions and promotions; each method one critical section."""

    def registry_ids(self, place: Place, start: int = 0, end: int = -1) -> list[str]:
        """Ids by ascending score, ``start`` to ``end`` inclusive."""
        with self._cond:
            ids = self._peek(place).ordered()
            return [ids[index] for index in redis_range(len(ids), start, end)]

    def registry_count(self, place: Place) -> int:
        """How many ids the registry holds."""
        with self._cond:
            return len(self._peek(place))

    def registry_score(self, place: Place, job_id: str) -> float | None:
        """The id's score, or None."""
        with self._cond:
            return self._peek(place).score(job_id)

    def registry_add(self, place: Place, job_id: str, score: float) -> None:
        """Add the id or update its score."""
        with self._cond:
            self._registry_of(place).add(job_id, score)

    def registry_update_score(self, place: Place, job_id: str, score: float) -> bool:
        """A new score for an id that is there; whether it was."""
        with self._cond:
            registry = self._peek(place)
            if registry.score(job_id) is None:
                return False
            self._registry_of(place).add(job_id, score)
            return True

    def registry_remove(self, place: Place, job_id: str) -> bool:
        """Remove the id; whether it was there."""
        with self._cond:
            return self._registry_of(place).discard(job_id)

    def registry_expired(self, place: Place, before: float) -> list[str]:
        """Ids scored at or below ``before``, ascending."""
        with self._cond:
            return self._peek(place).at_or_below(before)

    def registry_cleanup(self, place: Place, before: float) -> list[str]:
        """Remove and return the ids scored at or below ``before``."""
        with self._cond:
            registry = self._registry_of(place)
            expired = registry.at_or_below(before)
            for job_id in expired:
                registry.discard(job_id)
            return expired

    def transition(self, change: Transition) -> bool:
        """Move a job and update its record (and the worker's), or refuse writing nothing."""
        with self._cond:
            self._workers.check_updates([change.worker])
            return self._transition(change)

    def _transition(self, change: Transition) -> bool:
        """The move (the condition held, ``change.worker`` checked already)."""
        job_id = change.job_id
        record = self._jobs.live(job_id)
        if record is None:
            return False
        if change.source is not None and not self._holds(change.source, job_id):
            return False
        if change.execution_id is not None and record.get(EXECUTION) != change.execution_id.encode():
            return False

        limit, old_status = _slots.limit_of(record), record.get(STATUS)
        # A running job ended by another call than its execution's keeps its slot until its
        # lease runs out (its code may still be running): see RateLimitStore, rule 2.
        keep_until = None
        if limit is not None and old_status == STARTED and change.execution_id is None and change.source:
            keep_until = self._peek(change.source).score(job_id)
        if change.source is not None:
            self._discard(change.source, job_id)
        placed = None
        if change.target is not None:
            if change.target.is_queue:
                placed = _slots.to_queue(self, job_id, record, change.target.queue, at_front=change.at_front)
            else:
                self._registry_of(change.target).add(job_id, change.score)
        record.update(change.fields)
        if placed == _slots.RATE_LIMITED:
            record[STATUS] = placed  # it waits for a slot: not queued, whatever the fields say
        for name in change.delete_fields:
            record.pop(name, None)
        if change.result is not None:
            self._jobs.prepend_result(job_id, change.result, change.results_kept)
        if change.leave_dependencies:
            self._leave_dependencies(job_id)
        if change.dependents is not DependentsPolicy.NONE:
            self._settle_dependents(change)

        if change.record_ttl == 0:
            self._jobs.purge(job_id)
        elif change.record_ttl is not None:
            # PERSIST (or any other negative number) clears the expiry, positive sets it.
            self._jobs.expire_in(job_id, None if change.record_ttl <= PERSIST else change.record_ttl)
        new_status = None if change.record_ttl == 0 else record.get(STATUS)
        _slots.after_move(self, job_id, limit, old_status, new_status, change.released_fields, keep_until)
        if change.worker is not None:
            self._workers.apply_update(change.worker)
        return True

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
        with self._cond:
            deferred = self._peek(Place(PlaceKind.DEFERRED, queue))
            settled: list[str] = []
            for child in deferred.ordered():
                record = self._jobs.live(child)
                if record is None:
                    deferred.discard(child)
                    continue
                if record.get(STATUS) != DEFERRED:
                    continue
                gone = sorted(
                    parent for parent in self._jobs.unmet(child) or () if self._jobs.live(parent) is None
                )
                for parent in gone:
                    # The parent's dependents went with its record: settle this child as its
                    # dependent (a cascade may have settled it already; then nothing happens).
                    self._jobs.add_dependent(parent, child)
                    self._settle_dependents(
                        Transition(
                            parent,
                            None,
                            None,
                            dependents=DependentsPolicy.VANISHED,
                            released_fields=released_fields,
                            canceled_fields=canceled_fields,
                            default_failure_ttl=default_failure_ttl,
                            now=now,
                        )
                    )
                if gone:
                    settled.append(child)
            return settled

    def promote_scheduled(
        self, queue: str, now: float, fields: Mapping[str, bytes], limit: int = 100
    ) -> list[str]:
        """Queue up to ``limit`` due scheduled jobs in score order; returns the ids queued."""
        with self._cond:
            scheduled = self._registry(PlaceKind.SCHEDULED, queue)
            promoted: list[str] = []
            for job_id in scheduled.at_or_below(now):
                # The limit counts jobs queued: ids dropped on the way do not use it up.
                if len(promoted) >= limit:
                    break
                scheduled.discard(job_id)
                record = self._jobs.live(job_id)
                if record is None:
                    continue
                at_front = record.get(ENQUEUE_AT_FRONT) == b"1"
                record.update(fields)
                record[STATUS] = _slots.to_queue(self, job_id, record, queue, at_front=at_front)
                if record[STATUS] == QUEUED:
                    promoted.append(job_id)
            return promoted
