"""Dependencies between jobs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from jq.base.utils import public_module, validate_job_id
from jq.exceptions import ConfigurationError, InvalidJobDependency

if TYPE_CHECKING:
    from jq.core.job import Job

__all__ = ["Dependency", "dependency_ids", "recognize_jobs"]

# The class whose instances are jobs: jq.core.job, which imports this module, names it here (see
# recognize_jobs), so that a job given as a dependency is known without importing that module.
_job_types: tuple[type, ...] = ()


def recognize_jobs(job_class: type) -> None:
    """Take instances of ``job_class`` (:class:`jq.job.Job`) as jobs in ``depends_on=`` values."""
    global _job_types  # noqa: PLW0603  # set once, when jq.core.job is imported
    _job_types = (job_class,)


class Dependency:
    """Jobs that must end before a job runs.

    :param jobs: the jobs (or their ids) to wait for; at least one.
    :param allow_failure: run even when a dependency failed, stopped or was canceled.
    :param enqueue_at_front: put the job at the front of its queue once released.
    """

    def __init__(
        self,
        jobs: Iterable[Job | str] | Job | str,
        allow_failure: bool = False,
        enqueue_at_front: bool = False,
    ) -> None:
        # As RQ: one job or id, or any iterable of them; anything else is refused here, at once.
        items = list(jobs) if isinstance(jobs, Iterable) and not isinstance(jobs, str) else [jobs]
        if not all(isinstance(item, (*_job_types, str)) for item in items):
            raise InvalidJobDependency(f"Dependency(jobs=...) takes jobs and job ids, not {jobs!r}")
        if not items:
            raise InvalidJobDependency("Dependency(jobs=...) needs at least one job or job id")
        self.dependencies = items
        self.allow_failure = allow_failure
        self.enqueue_at_front = enqueue_at_front

    @classmethod
    def get_jobs_with_met_dependencies(
        cls, jobs: Iterable[Job], pipeline: Any = None
    ) -> tuple[list[Job], list[Job]]:
        """``jobs`` split into those whose dependencies are met now and the others (RQ's helper of
        ``enqueue_many``; jq's enqueue registers dependencies itself, so this only reads)."""
        met: list[Job] = []
        unmet: list[Job] = []
        for job in jobs:
            (met if job.dependencies_are_met() else unmet).append(job)
        return met, unmet

    def __repr__(self) -> str:
        return (
            f"Dependency(jobs={dependency_ids(self)}, allow_failure={self.allow_failure}, "
            f"enqueue_at_front={self.enqueue_at_front})"
        )


def dependency_ids(depends_on: Any) -> list[str]:
    """The job ids in a ``depends_on=`` value: a Job, an id, a Dependency, or a list of these."""
    if depends_on is None:  # nearly every enqueue
        return []
    items = depends_on if isinstance(depends_on, list | tuple) else [depends_on]
    ids: list[str] = []
    for item in items:
        if isinstance(item, Dependency):
            ids.extend(dependency_ids(item.dependencies))
        elif isinstance(item, _job_types):
            ids.append(cast("Job", item).id)
        elif isinstance(item, str):
            try:
                ids.append(validate_job_id(item))
            except ConfigurationError as exc:
                raise InvalidJobDependency(f"depends_on: {exc}") from None
        else:
            raise InvalidJobDependency(
                f"depends_on takes jobs, job ids or Dependency objects, not {type(item).__name__}"
            )
    # Keep order, drop repeats.
    return list(dict.fromkeys(ids))


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.dependency", Dependency)
