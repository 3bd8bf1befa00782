"""The key names a :class:`~jq.broker.rules.StoreBroker` reports, from an object the driver gives.

jq never stores by these names through a :class:`~jq.broker.store.Store` (a store is addressed by
record kinds and collections); the broker reports them where RQ code reads RQ's names
(``job.key``, ``job.dependents_key``...), and names its command channels with them. jq's drivers
pass a :class:`jq_backends.keys.KeySpace`, so that a key means the same on every driver.
"""

from __future__ import annotations

from typing import Protocol

from jq.broker.types import Place

__all__ = ["KeyNaming"]


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
