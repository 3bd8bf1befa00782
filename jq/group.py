"""Groups of jobs enqueued together (RQ 3.0's ``rq.group``).

jq does not store job groups (yet): :class:`Group` keeps RQ's names and refuses what reads or
writes a group with :class:`jq.exceptions.UnsupportedByBrokerError`, so that code using groups
fails clearly instead of losing track of its jobs.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from jq.defaults import RQ_KEY_PREFIX
from jq.exceptions import UnsupportedByBrokerError

if TYPE_CHECKING:
    from jq.job import Job
    from jq.queue import EnqueueData, Queue

__all__ = ["Group"]


def _not_stored() -> UnsupportedByBrokerError:
    return UnsupportedByBrokerError("jq does not store job groups yet: enqueue the jobs without a group")


class Group:
    """A named group of jobs in one store (``name`` defaults to a new random one)."""

    #: RQ's key names of groups, under jq's key prefix; jq writes none of them.
    REDIS_GROUP_NAME_PREFIX = f"{RQ_KEY_PREFIX}:group:"
    REDIS_GROUP_KEY = f"{RQ_KEY_PREFIX}:groups"
    REDIS_GROUP_CLEANING_KEY = f"{RQ_KEY_PREFIX}:clean_groups"

    def __init__(self, connection: Any, name: str | None = None) -> None:
        self.connection = connection
        self.name = name or uuid.uuid4().hex
        self.key = self.get_key(self.name)

    def __repr__(self) -> str:
        return f"Group(id={self.name})"

    @classmethod
    def get_key(cls, name: str) -> str:
        """RQ's key of the group ``name`` (jq writes nothing there)."""
        return cls.REDIS_GROUP_NAME_PREFIX + name

    @classmethod
    def create(cls, connection: Any, name: str | None = None) -> Group:
        """A new group object (nothing is stored until jobs are added, which jq refuses)."""
        return cls(connection, name)

    @classmethod
    def fetch(cls, name: str, connection: Any) -> Group:
        """Refused: jq stores no groups."""
        raise _not_stored()

    @classmethod
    def all(cls, connection: Any) -> list[Group]:
        """No groups: jq stores none."""
        return []

    def enqueue_many(self, queue: Queue, job_datas: list[EnqueueData], pipeline: Any = None) -> list[Job]:
        """Refused: jq stores no groups (``queue.enqueue_many(job_datas)`` enqueues the jobs)."""
        raise _not_stored()

    def get_jobs(self) -> list[Job]:
        """Refused: jq stores no groups."""
        raise _not_stored()

    def delete_job(self, job_id: str, pipeline: Any = None) -> None:
        """Refused: jq stores no groups."""
        raise _not_stored()

    def cleanup(self) -> None:
        """Nothing to clean: jq stores no groups."""

    @classmethod
    def acquire_maintenance_lock(cls, connection: Any, timeout: int) -> bool:
        """False: there is no group maintenance to do."""
        return False

    @classmethod
    def clean_registries(cls, connection: Any) -> None:
        """Nothing to clean: jq stores no groups."""
