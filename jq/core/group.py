"""Groups of jobs tracked under one name (RQ 3.0's ``rq.group``).

A :class:`Group` is a name and the set of ids of the jobs enqueued in it, stored by the broker
(``jq:group:<name>``, see :class:`jq.broker.GroupStore`)::

    group = Group.create(connection=redis)
    jobs = group.enqueue_many(queue, [Queue.prepare_data(f, (1,)), Queue.prepare_data(f, (2,))])
    group.get_jobs()                     # the jobs that still exist
    Group.fetch(group.name, connection=redis)

Each job joins its group in the same atomic step that enqueues it, and its record says which
(``job.group_id``). A group holds ids only: it never keeps a job alive. Ids of jobs whose record
is gone (deleted, or expired after their ``result_ttl``/``failure_ttl``) are dropped by
:meth:`Group.cleanup` (which :meth:`Group.get_jobs` runs first, and a worker's maintenance runs
for every group), and a group left without jobs no longer exists, as in RQ.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from jq.base.utils import public_module
from jq.broker import Broker
from jq.core.job import Job
from jq.defaults import RQ_KEY_PREFIX
from jq.exceptions import ConfigurationError, NoSuchGroupError, NoSuchJobError, UnsupportedByBrokerError
from jq.io.connections import resolve_broker

if TYPE_CHECKING:
    from jq.core.job import Job
    from jq.queueing.queue import EnqueueData, Queue

__all__ = ["Group", "check_group_name"]

#: The lock that lets one worker at a time clean every group (see :meth:`Group.clean_registries`).
MAINTENANCE_LOCK = "maintenance:groups"


def check_group_name(name: Any) -> str:
    """``name`` when it can name a group (a non-empty string), else :class:`ConfigurationError`."""
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"a group's name is a non-empty string, not {name!r}")
    return name


def groups_of(connection: Any) -> Broker:
    """The broker of ``connection``, which must store groups (else :class:`UnsupportedByBrokerError`)."""
    broker = resolve_broker(connection)
    if not broker.supports_groups:
        raise UnsupportedByBrokerError(
            f"{type(broker).__name__} does not store job groups: enqueue the jobs without a group"
        )
    return broker


class Group:
    """A named group of jobs in one store (``name`` defaults to a new random one).

    Creating the object stores nothing: a group exists once a job was enqueued in it.
    """

    #: RQ's key names of groups: jq's keys under the key prefix in effect at import (a broker
    #: with another prefix stores its groups under that one: see :attr:`key`).
    REDIS_GROUP_NAME_PREFIX = f"{RQ_KEY_PREFIX}:group:"
    REDIS_GROUP_KEY = f"{RQ_KEY_PREFIX}:groups"
    #: RQ's key of the lock that spaces group cleanups; jq's is the lock named ``maintenance:groups``.
    REDIS_GROUP_CLEANING_KEY = f"{RQ_KEY_PREFIX}:lock:{MAINTENANCE_LOCK}"

    def __init__(self, connection: Any, name: str | None = None) -> None:
        self.connection = connection
        self.broker = groups_of(connection)
        self.name = check_group_name(name) if name is not None else uuid.uuid4().hex
        self.key = self.broker.group_key(self.name)

    def __repr__(self) -> str:
        return f"Group(id={self.name})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Group) and (other.name, other.broker) == (self.name, self.broker)

    def __hash__(self) -> int:
        return hash(self.name)

    @classmethod
    def get_key(cls, name: str) -> str:
        """The key of the group ``name`` under the key prefix in effect at import."""
        return cls.REDIS_GROUP_NAME_PREFIX + name

    @classmethod
    def create(cls, connection: Any, name: str | None = None) -> Group:
        """A new group object (nothing is stored until jobs are enqueued in it)."""
        return cls(connection, name)

    @classmethod
    def fetch(cls, name: str, connection: Any) -> Group:
        """The group ``name``; :class:`NoSuchGroupError` when it holds no job (never had one, or
        all its jobs are gone)."""
        group = cls(connection, name)
        if not group.broker.group_job_ids(group.name):
            raise NoSuchGroupError(f"No such group: {name}")
        return group

    @classmethod
    def all(cls, connection: Any) -> list[Group]:
        """Every group of the store that still has jobs, by name."""
        broker = resolve_broker(connection)
        return [cls(connection, name) for name in broker.group_names()]

    def enqueue_many(self, queue: Queue, job_datas: Iterable[EnqueueData], pipeline: Any = None) -> list[Job]:
        """Enqueue the jobs (:meth:`Queue.enqueue_many`, all or nothing) in this group; with
        ``pipeline``, when the caller executes it."""
        return queue.enqueue_many(job_datas, pipeline=pipeline, group_id=self.name)

    def get_job_ids(self) -> list[str]:
        """The ids of the group's jobs that still exist, sorted (after :meth:`cleanup`)."""
        return self.cleanup()

    def get_jobs(self) -> list[Job]:
        """The group's jobs that still exist, by id (after :meth:`cleanup`)."""
        found = Job.fetch_many(self.cleanup(), connection=self.broker)
        return [job for job in found if job is not None]

    def cleanup(self) -> list[str]:
        """Drop the ids of jobs whose record is gone; the group no longer exists once none is
        left. Returns the ids left (RQ returns None)."""
        return self.broker.group_cleanup(self.name)

    def delete_job(self, job_id: str, pipeline: Any = None) -> None:
        """Take ``job_id`` out of the group (the job itself stays). ``pipeline`` is refused:
        the change is one atomic call of its own."""
        if pipeline is not None:
            raise UnsupportedByBrokerError(
                "Group.delete_job(pipeline=...) is not supported: call it without a pipeline"
            )
        self.broker.group_remove(self.name, [job_id])

    def delete(self, delete_jobs: bool = False) -> None:
        """Forget the group; with ``delete_jobs``, delete its jobs first (their records and
        results; see :meth:`jq.job.Job.delete`), else they are left as they are."""
        if delete_jobs:
            for job in self.get_jobs():
                try:
                    job.delete()
                except NoSuchJobError:
                    continue  # gone meanwhile
        self.broker.group_delete(self.name)

    @classmethod
    def acquire_maintenance_lock(cls, connection: Any, timeout: int) -> bool:
        """Take the lock that lets one worker at a time clean every group, for ``timeout``
        seconds; it is never released, so groups are cleaned at most once per ``timeout``."""
        return resolve_broker(connection).acquire_lock(MAINTENANCE_LOCK, uuid.uuid4().hex, timeout)

    @classmethod
    def clean_registries(cls, connection: Any) -> None:
        """Run :meth:`cleanup` on every group (a group left without jobs no longer exists)."""
        broker = resolve_broker(connection)
        for name in broker.group_names():
            broker.group_cleanup(name)


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.group", Group)
