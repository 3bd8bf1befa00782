"""Dependencies between jobs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jq.exceptions import ConfigurationError, InvalidJobDependency
from jq.utils import validate_job_id

if TYPE_CHECKING:
    from jq.job import Job

__all__ = ["Dependency", "dependency_ids"]


class Dependency:
    """Jobs that must end before a job runs.

    :param jobs: the jobs (or their ids) to wait for; at least one.
    :param allow_failure: run even when a dependency failed, stopped or was canceled.
    :param enqueue_at_front: put the job at the front of its queue once released.
    """

    def __init__(
        self,
        jobs: Sequence[Job | str] | Job | str,
        allow_failure: bool = False,
        enqueue_at_front: bool = False,
    ) -> None:
        items = [jobs] if isinstance(jobs, str) or not isinstance(jobs, Sequence) else list(jobs)
        if not items:
            raise InvalidJobDependency("Dependency(jobs=...) needs at least one job or job id")
        self.dependencies = items
        self.allow_failure = allow_failure
        self.enqueue_at_front = enqueue_at_front

    def __repr__(self) -> str:
        return (
            f"Dependency(jobs={dependency_ids(self)}, allow_failure={self.allow_failure}, "
            f"enqueue_at_front={self.enqueue_at_front})"
        )


def dependency_ids(depends_on: Any) -> list[str]:
    """The job ids in a ``depends_on=`` value: a Job, an id, a Dependency, or a list of these."""
    if depends_on is None:  # nearly every enqueue: answered before the import below
        return []
    from jq.job import Job

    items = depends_on if isinstance(depends_on, list | tuple) else [depends_on]
    ids: list[str] = []
    for item in items:
        if isinstance(item, Dependency):
            ids.extend(dependency_ids(item.dependencies))
        elif isinstance(item, Job):
            ids.append(item.id)
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
