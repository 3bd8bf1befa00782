"""A job's dependencies (the jobs it waits for) and dependents (the jobs waiting for it), under
RQ's names; a mixin of :class:`jq.job.Job`.

Whether a job waits, and when it is released, is decided by the broker in the step that enqueues
it or ends its dependency (see :class:`jq.broker.DependentsPolicy`): these only read, but for
``delete_dependents``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from jq.broker import Broker
from jq.core.dependency import Dependency, dependency_ids
from jq.core.job_state import JobStatus
from jq.exceptions import InvalidJobDependency
from jq.io.connections import same_store
from jq.io.serializers import Serializer

if TYPE_CHECKING:
    from jq.core.job import Job

__all__ = ["JobDependencies"]


class JobDependencies:
    """RQ's dependency methods of a job."""

    # Set by Job.__init__ (see jq.core.job).
    _id: str
    _dependency_ids: list[str]
    allow_dependency_failures: bool
    enqueue_at_front: bool
    broker: Broker
    serializer: Serializer

    if TYPE_CHECKING:

        @classmethod
        def fetch_many(
            cls, job_ids: Iterable[str], connection: Any = None, serializer: Any = None
        ) -> list[Job | None]: ...

    def process_dependencies(self, depends_on: Any) -> None:
        """Set the jobs this job waits for from a ``depends_on=`` value (a job, an id, a
        :class:`Dependency`, or a list of these); a Dependency's ``allow_failure`` and
        ``enqueue_at_front`` then apply to the job."""
        ids = dependency_ids(depends_on)
        if self._id in ids:
            raise InvalidJobDependency(f"job {self._id!r} cannot depend on itself: it would wait forever")
        for item in depends_on if isinstance(depends_on, list | tuple) else [depends_on]:
            if isinstance(item, Dependency):
                self.allow_dependency_failures = self.allow_dependency_failures or item.allow_failure
                self.enqueue_at_front = self.enqueue_at_front or item.enqueue_at_front
                for job in item.dependencies:
                    self._refuse_other_store(job)
            else:
                self._refuse_other_store(item)
        self._dependency_ids = ids

    def _refuse_other_store(self, dependency: Any) -> None:
        """Refuse a dependency given as a job of another store (another server, database or key
        prefix): the broker looks a dependency up by id in this job's store, where that job is
        unknown, and an unknown id counts as met (as in RQ), so the job would run at once."""
        other: Broker | None = getattr(dependency, "broker", None)
        if isinstance(dependency, str) or other is None or same_store(other, self.broker):
            return
        raise InvalidJobDependency(
            f"job {self._id!r} cannot depend on job {dependency.id!r}: that job is stored in {other!r} "
            f"and this one goes to {self.broker!r}, where its id is unknown (and an unknown "
            "dependency counts as met). Enqueue both jobs through the same store (one Redis, "
            "database and key prefix)."
        )

    @property
    def dependency_ids(self) -> list[str]:
        """The ids of the jobs this job depends on."""
        return list(self._dependency_ids)

    @property
    def dependencies(self) -> list[Job]:
        """The jobs this job depends on that still exist."""
        return self._existing(self._dependency_ids)

    @property
    def dependency(self) -> Job | None:
        """The first job this job depends on, or None."""
        found = self.dependencies
        return found[0] if found else None

    def fetch_dependencies(self, watch: bool = False, pipeline: Any = None) -> list[Job]:
        """The jobs this job depends on that still exist (``watch`` and ``pipeline`` are RQ's
        WATCH machinery, which jq's atomic enqueue does not need: they are accepted and unused)."""
        return self.dependencies

    @property
    def dependent_ids(self) -> list[str]:
        """The ids of the jobs still waiting for this one, sorted."""
        return self.broker.dependent_ids(self._id)

    def dependencies_are_met(
        self,
        parent_job: Job | None = None,
        pipeline: Any = None,
        exclude_job_id: str | None = None,
        refresh_job_status: bool = True,
    ) -> bool:
        """Whether every dependency finished (or, when the job allows failures, failed), read
        now. ``parent_job`` is judged by its status (refreshed unless ``refresh_job_status`` is
        False); ``exclude_job_id`` is left out; dependencies whose record is gone are left out, as
        RQ does. (``pipeline`` is accepted and unused.)"""
        met = {JobStatus.FINISHED}
        if self.allow_dependency_failures:
            met.add(JobStatus.FAILED)
        ids = [job_id for job_id in self._dependency_ids if job_id != exclude_job_id]
        if parent_job is not None and parent_job.id != exclude_job_id:
            if parent_job.get_status(refresh=refresh_job_status) not in met:
                return False
            ids = [job_id for job_id in ids if job_id != parent_job.id]
        return all(job.get_status(refresh=False) in met for job in self._existing(ids))

    def delete_dependents(self, pipeline: Any = None) -> None:
        """Delete the jobs waiting for this one (each left in its queue's lists as
        ``delete(remove_from_queue=False)`` leaves it), on ``pipeline`` when given."""
        for dependent in self._existing(self.dependent_ids):
            dependent.delete(pipeline=pipeline, remove_from_queue=False)

    def _existing(self, job_ids: list[str]) -> list[Job]:
        found = type(self).fetch_many(job_ids, connection=self.broker, serializer=self.serializer)
        return [job for job in found if job is not None]
