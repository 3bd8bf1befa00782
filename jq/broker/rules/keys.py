"""The key names a :class:`~jq.broker.rules.StoreBroker` reports, from an object the driver gives.

jq never stores by these names through a :class:`~jq.broker.store.Store` (a store is addressed by
record kinds and collections); the broker reports them where RQ code reads RQ's names
(``job.key``, ``job.dependents_key``...), and names its command channels with them. jq's drivers
pass a :class:`jq_backends.keys.KeySpace`, so that a key means the same on every driver.
"""

from __future__ import annotations

from typing import Protocol

from jq.broker.types import Place

__all__ = ["KeyNames", "KeyNaming"]


class KeyNaming(Protocol):
    """What a store broker asks of its key-naming object (``KeySpace`` answers all of it)."""

    def job(self, job_id: str) -> str:
        """The key of a job's record."""
        ...

    def results(self, job_id: str) -> str:
        """The key of a job's result entries."""
        ...

    def dependents(self, job_id: str) -> str:
        """The key of the ids waiting for a job."""
        ...

    def dependencies(self, job_id: str) -> str:
        """The key of a job's unmet dependencies."""
        ...

    def queue(self, name: str) -> str:
        """The key of a queue."""
        ...

    def place(self, place: Place) -> str:
        """The key of a queue or one of its registries."""
        ...

    def worker(self, name: str) -> str:
        """The key of a worker's record."""
        ...

    def worker_name(self, key: str) -> str | None:
        """The name inside a :meth:`worker` key, or None if ``key`` is not one."""
        ...

    def group(self, name: str) -> str:
        """The key of a job group."""
        ...

    @property
    def queues(self) -> str:
        """The key of the names of the known queues."""
        ...

    def commands(self, name: str) -> str:
        """The channel a worker receives its commands on."""
        ...


class KeyNames:
    """The key-naming methods of :class:`jq.broker.Broker`, answered from a :class:`KeyNaming`.

    :class:`~jq.broker.rules.StoreBroker` and the Redis driver mix this in before ``Broker``, so
    ``job.key`` means the same on every driver.
    """

    _keys: KeyNaming

    def job_key(self, job_id: str) -> str:
        """The key of the job's record."""
        return self._keys.job(job_id)

    def queue_key(self, queue: str) -> str:
        """The key of the queue's list of ids."""
        return self._keys.queue(queue)

    def place_key(self, place: Place) -> str:
        """The key of a queue or registry."""
        return self._keys.place(place)

    def worker_key(self, name: str) -> str:
        """The key of a worker's record."""
        return self._keys.worker(name)

    def results_key(self, job_id: str) -> str:
        """The key of the job's result entries."""
        return self._keys.results(job_id)

    def dependents_key(self, job_id: str) -> str:
        """The key of the ids of the jobs waiting for the job."""
        return self._keys.dependents(job_id)

    def dependencies_key(self, job_id: str) -> str:
        """The key of the ids of the job's unmet dependencies."""
        return self._keys.dependencies(job_id)

    def group_key(self, name: str) -> str:
        """The key of a job group's ids."""
        return self._keys.group(name)

    def queues_key(self) -> str:
        """The key of the names of the known queues."""
        return self._keys.queues

    def worker_name_from_key(self, key: str) -> str | None:
        """The worker name inside a :meth:`worker_key`, or None."""
        return self._keys.worker_name(key)
