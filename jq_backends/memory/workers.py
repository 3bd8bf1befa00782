"""The memory driver's workers: :class:`jq.broker.WorkerStore` over :class:`._tables.WorkerTable`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from jq.broker import Record, WorkerStore
from jq_backends.memory._base import MemoryState

__all__ = ["MemoryWorkers"]


class MemoryWorkers(MemoryState, WorkerStore):
    """Worker records and their queue index in memory; each method one critical section."""

    def register_worker(
        self, name: str, fields: Mapping[str, bytes], queues: Sequence[str], ttl: float
    ) -> bool:
        """Register a worker; False when a live one has the name."""
        with self._cond:
            return self._workers.register(name, fields, queues, ttl)

    def heartbeat_worker(
        self,
        name: str,
        fields: Mapping[str, bytes],
        ttl: float,
        increments: Mapping[str, float] | None = None,
    ) -> bool:
        """Keep a live worker alive, write ``fields``, then add ``increments``."""
        with self._cond:
            return self._workers.heartbeat(name, fields, ttl, increments or {})

    def unregister_worker(self, name: str) -> None:
        """Forget the worker."""
        with self._cond:
            self._workers.unregister(name)

    def worker_names(self, queue: str | None = None) -> list[str]:
        """Live workers' names (of ``queue`` when given), sorted."""
        with self._cond:
            return self._workers.names(queue)

    def load_workers(self, names: Sequence[str]) -> list[Record | None]:
        """Copies of the workers' records, None for each gone one."""
        with self._cond:
            return [self._workers.load(name) for name in names]
