"""The memory driver's job records: :class:`jq.broker.JobStore` over :class:`._tables.JobTable`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from jq.broker import ORIGIN, STATUS, DependentsPolicy, JobStore, Place, PlaceKind, Record, Transition
from jq.defaults import DEFAULT_FAILURE_TTL
from jq_backends.memory import _slots
from jq_backends.memory._base import STARTED, MemoryState

__all__ = ["MemoryJobs"]


class MemoryJobs(MemoryState, JobStore):
    """Job records, results and dependents in memory; each method one critical section."""

    def save_job(self, job_id: str, fields: Mapping[str, bytes], record_ttl: int | None = None) -> None:
        """Replace the record, keeping results and place; ``record_ttl`` sets or clears expiry."""
        with self._cond:
            self._jobs.put(job_id, fields)
            self._jobs.expire_in(job_id, record_ttl)

    def update_job(self, job_id: str, fields: Mapping[str, bytes]) -> bool:
        """Write fields onto a live record; False when there is none."""
        with self._cond:
            record = self._jobs.live(job_id)
            if record is None:
                return False
            record.update(fields)
            return True

    def load_job(self, job_id: str) -> Record | None:
        """A copy of the record, or None."""
        with self._cond:
            record = self._jobs.live(job_id)
            return None if record is None else dict(record)

    def load_jobs(self, job_ids: Sequence[str]) -> list[Record | None]:
        """Copies of the records, in order, None for each missing one."""
        with self._cond:
            return [self.load_job(job_id) for job_id in job_ids]

    def load_job_fields(self, job_id: str, names: Sequence[str]) -> list[bytes | None] | None:
        """Some fields of the record (None for a missing field), or None with no record."""
        with self._cond:
            record = self._jobs.live(job_id)
            return None if record is None else [record.get(name) for name in names]

    def job_exists(self, job_id: str) -> bool:
        """Whether a live record exists."""
        with self._cond:
            return self._jobs.live(job_id) is not None

    def job_ttl(self, job_id: str) -> float | None:
        """Seconds until the record expires, or None."""
        with self._cond:
            return self._jobs.ttl(job_id)

    def load_results(self, job_id: str) -> list[bytes]:
        """The result entries, newest first."""
        with self._cond:
            return self._jobs.results(job_id)

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
        with self._cond:
            record = self._jobs.live(job_id)
            existed = record is not None
            old_status = None if record is None else record.get(STATUS)
            keep_until = None
            if old_status == STARTED and record is not None:
                # A running job deleted keeps its rate-limit slot until its lease runs out.
                origin = record.get(ORIGIN, b"").decode()
                keep_until = self._peek(Place(PlaceKind.STARTED, origin)).score(job_id)
            for place in places:
                self._discard(place, job_id)
            policy = DependentsPolicy(dependents)
            if policy is not DependentsPolicy.NONE:
                self._settle_dependents(
                    Transition(
                        job_id,
                        None,
                        None,
                        dependents=policy,
                        released_fields=released_fields or {},
                        canceled_fields=canceled_fields or {},
                        default_failure_ttl=default_failure_ttl,
                        now=now,
                    )
                )
            self._jobs.purge(job_id)
            _slots.after_move(self, job_id, _slots.limit_of(record), old_status, None, released_fields or {},
                              keep_until)  # fmt: skip
            return existed

    def dependent_ids(self, job_id: str) -> list[str]:
        """The jobs still waiting for this one, sorted."""
        with self._cond:
            return sorted(self._jobs.dependents(job_id))
