"""The Redis driver's workers: :class:`jq.broker.WorkerStore` on expiring hashes and index sets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from jq.broker import Record, WorkerStore
from jq_backends.redis import codec
from jq_backends.redis._base import RedisState
from jq_backends.redis.scripts import Arg

__all__ = ["RedisWorkers"]


class RedisWorkers(RedisState, WorkerStore):
    """Worker records and their queue index on Redis: one script per change."""

    def register_worker(
        self, name: str, fields: Mapping[str, bytes], queues: Sequence[str], ttl: float
    ) -> bool:
        """Register a live worker and index it by queue (one script)."""
        keys = self._keys
        script_keys = [
            keys.worker(name),
            keys.worker_queues(name),
            keys.workers,
            *(keys.workers_of(queue) for queue in queues),
        ]
        args: list[Arg] = [name, codec.milliseconds(ttl), len(queues), *queues, *codec.pairs(fields)]
        return bool(self._scripts("register_worker", script_keys, args))

    def heartbeat_worker(
        self,
        name: str,
        fields: Mapping[str, bytes],
        ttl: float,
        increments: Mapping[str, float] | None = None,
    ) -> bool:
        """Extend a live worker's expiry, write fields and add increments (one script)."""
        k = self._keys
        script_keys = [k.worker(name), k.worker_queues(name)]
        args: list[Arg] = [codec.milliseconds(ttl), *codec.pairs(fields)]
        if increments:
            args += codec.increments(increments)
        return bool(self._scripts("heartbeat_worker", script_keys, args))

    def unregister_worker(self, name: str) -> None:
        """Delete the worker's record and its index entries (one script)."""
        keys = self._keys
        script_keys = [keys.worker(name), keys.worker_queues(name), keys.workers]
        self._scripts("unregister_worker", script_keys, [])

    def worker_names(self, queue: str | None = None) -> list[str]:
        """Live workers, sorted; prunes names whose record expired (one script)."""
        keys = self._keys
        index = keys.workers if queue is None else keys.workers_of(queue)
        args: list[Arg] = [] if queue is None else [queue]
        return sorted(codec.text(name) for name in self._scripts("worker_names", [index], args))

    def load_workers(self, names: Sequence[str]) -> list[Record | None]:
        """Many worker records in one pipeline, in the order given."""
        raws = self._hgetall_many([self._keys.worker(name) for name in names])
        return [codec.worker_record(raw) for raw in raws]
