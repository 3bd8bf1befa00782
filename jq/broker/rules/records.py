"""Job records: :class:`jq.broker.JobStore` on a store, and the result entries a transition adds.

A job is its :attr:`RecordKind.JOB` record; its result entries are the :attr:`RecordKind.RESULTS`
record under the same id (fields ``"0"``, ``"1"``... newest first), which belongs to the job's
record as its dependency sets do: the store deletes and expires them together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from jq.broker.contract import JobStore
from jq.broker.rules._base import StoreRules
from jq.broker.rules.dependents import dependents, settle_dependents
from jq.broker.rules.fields import STARTED, limit_of
from jq.broker.rules.places import take_out_of
from jq.broker.rules.slots import after_move
from jq.broker.store import Collection, RecordKind, StoreTransaction
from jq.broker.types import ORIGIN, STATUS, DependentsPolicy, Place, PlaceKind, Record, settlement_for
from jq.defaults import DEFAULT_FAILURE_TTL

__all__ = ["StoreJobs", "deadline_of", "prepend_result", "read_results"]


def deadline_of(now: float, record_ttl: int | None) -> float | None:
    """The expiry deadline of a record saved with ``record_ttl`` now: None (no expiry) for None,
    0 or a negative number."""
    return now + record_ttl if record_ttl is not None and record_ttl > 0 else None


def read_results(tx: StoreTransaction, job_id: str) -> list[bytes]:
    """The job's result entries, newest first."""
    entries = tx.read(RecordKind.RESULTS, job_id) or {}
    return [entries[str(index)] for index in range(len(entries)) if str(index) in entries]


def prepend_result(tx: StoreTransaction, job_id: str, result: bytes, kept: int) -> None:
    """Add a result entry in front, dropping the oldest beyond ``kept`` (at least one stays)."""
    entries = [result, *read_results(tx, job_id)][: max(kept, 1)]
    tx.write(
        RecordKind.RESULTS, job_id, {str(index): entry for index, entry in enumerate(entries)}, replace=True
    )


class StoreJobs(StoreRules, JobStore):
    """Job records, results and dependents; each method one atomic block."""

    def save_job(self, job_id: str, fields: Mapping[str, bytes], record_ttl: int | None = None) -> None:
        """Replace the record, keeping results and place; ``record_ttl`` sets or clears expiry."""
        with self.store.atomic() as tx:
            tx.write(RecordKind.JOB, job_id, fields, replace=True)
            tx.expire(RecordKind.JOB, job_id, deadline_of(self.store.now(), record_ttl))

    def update_job(self, job_id: str, fields: Mapping[str, bytes]) -> bool:
        """Write fields onto an existing record; False (nothing written) when there is none."""
        with self.store.atomic() as tx:
            if tx.read(RecordKind.JOB, job_id) is None:
                return False
            tx.write(RecordKind.JOB, job_id, fields)
            return True

    def load_job(self, job_id: str) -> Record | None:
        """The record, or None."""
        with self.store.atomic() as tx:
            return tx.read(RecordKind.JOB, job_id)

    def load_jobs(self, job_ids: Sequence[str]) -> list[Record | None]:
        """The records in the order given, None for each missing one."""
        with self.store.atomic() as tx:
            return [tx.read(RecordKind.JOB, job_id) for job_id in job_ids]

    def load_job_fields(self, job_id: str, names: Sequence[str]) -> list[bytes | None] | None:
        """Some fields of the record (None for a missing field), or None with no record."""
        with self.store.atomic() as tx:
            record = tx.read(RecordKind.JOB, job_id)
        return None if record is None else [record.get(name) for name in names]

    def job_exists(self, job_id: str) -> bool:
        """Whether the job has a record."""
        with self.store.atomic() as tx:
            return tx.read(RecordKind.JOB, job_id) is not None

    def job_ttl(self, job_id: str) -> float | None:
        """Seconds until the record expires, or None."""
        with self.store.atomic() as tx:
            deadline = tx.expiry(RecordKind.JOB, job_id)
            return None if deadline is None else deadline - self.store.now()

    def load_results(self, job_id: str) -> list[bytes]:
        """The result entries, newest first (none without a record)."""
        with self.store.atomic() as tx:
            if tx.read(RecordKind.JOB, job_id) is None:
                return []
            return read_results(tx, job_id)

    def delete_job(
        self,
        job_id: str,
        places: Sequence[Place] = (),
        *,
        dependents: DependentsPolicy = DependentsPolicy.NONE,
        released_fields: Mapping[str, bytes] | None = None,
        canceled_fields: Mapping[str, bytes] | None = None,
        default_failure_ttl: int = DEFAULT_FAILURE_TTL,
        now: float | None = None,
    ) -> bool:
        """Take the job out of ``places``, settle its dependents under the ``dependents`` policy,
        and delete its record, results and dependency sets."""
        settlement = settlement_for(dependents, canceled_fields, default_failure_ttl, now)
        with self.store.atomic() as tx:
            clock = self.store.now()
            record = tx.read(RecordKind.JOB, job_id)
            old_status = None if record is None else record.get(STATUS)
            keep_until = None
            if record is not None and old_status == STARTED:
                # A running job deleted keeps its rate-limit slot until its lease runs out.
                started = Place(PlaceKind.STARTED, record.get(ORIGIN, b"").decode())
                keep_until = tx.score(Collection.of(started), job_id)
            for place in places:
                take_out_of(tx, place, job_id)
            if settlement is not None:
                settle_dependents(tx, job_id, settlement, released_fields or {}, clock)
            tx.delete(RecordKind.JOB, job_id)
            after_move(
                tx, job_id, limit_of(record), old_status, None, released_fields or {}, clock, keep_until
            )
            return record is not None

    def dependent_ids(self, job_id: str) -> list[str]:
        """The jobs still waiting for this one, sorted."""
        with self.store.atomic() as tx:
            return sorted(dependents(tx, job_id))
