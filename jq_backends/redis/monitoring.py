"""The Redis driver's reads for dashboards and metrics: :class:`jq.broker.MonitoringStore` and
:meth:`jq.broker.Broker.queue_snapshots`, each one pipeline (not a transaction: every count is
exact at its own moment) whatever the number of queues.

The history is counted by the transition scripts (``lua/lib_history.lua``); here it is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from jq.broker import Counts, MonitoringStore, PlaceKind, QueueSnapshot, Resolution
from jq.broker.history import parse_counts, parse_totals, record_starts
from jq.broker.monitoring import SNAPSHOT_PLACES
from jq_backends.redis import codec
from jq_backends.redis._base import RedisState, is_wrong_type, logger

__all__ = ["RedisMonitoring"]


class RedisMonitoring(RedisState, MonitoringStore):
    """Every queue's snapshot in two pipelines, the history in one."""

    supports_history = True

    def queue_snapshots(self, queues: Sequence[str], head_fields: Sequence[str] = ()) -> list[QueueSnapshot]:
        """LLEN, ZCARD of each registry and LINDEX 0 of every queue in one pipeline, then HMGET
        of the heads' fields in a second one (when fields are asked for and a queue has a head)."""
        t = self._t
        pipe = self._client.pipeline(transaction=False)
        for queue in queues:
            for kind in SNAPSHOT_PLACES:
                if kind is PlaceKind.QUEUE:
                    pipe.llen(t.queue + queue)
                else:
                    pipe.zcard(t.places[kind] + queue)
            pipe.lindex(t.queue + queue, 0)
        replies = self._replies(pipe)
        width = len(SNAPSHOT_PLACES) + 1
        snapshots = []
        for index, queue in enumerate(queues):
            row = replies[index * width : (index + 1) * width]
            counts = {kind: int(row[n] or 0) for n, kind in enumerate(SNAPSHOT_PLACES)}
            head = None if row[-1] is None else codec.text(row[-1])
            snapshots.append(QueueSnapshot(queue, counts, head))
        if not head_fields or not any(snapshot.head for snapshot in snapshots):
            return snapshots
        return self._with_head_fields(snapshots, head_fields)

    def _with_head_fields(self, snapshots: list[QueueSnapshot], names: Sequence[str]) -> list[QueueSnapshot]:
        """The snapshots with the fields ``names`` of their heads' records (one pipeline)."""
        pipe = self._client.pipeline(transaction=False)
        headed = [snapshot for snapshot in snapshots if snapshot.head is not None]
        for snapshot in headed:
            pipe.hmget(self._t.job + cast("str", snapshot.head), list(names))
        nothing = [None] * len(names)
        found = {
            snapshot.queue: dict(zip(names, values or nothing, strict=True))
            for snapshot, values in zip(headed, self._replies(pipe), strict=True)
        }
        return [
            QueueSnapshot(snapshot.queue, snapshot.counts, snapshot.head, found.get(snapshot.queue, {}))
            for snapshot in snapshots
        ]

    def history_totals(self, queues: Sequence[str]) -> list[dict[str, Counts]]:
        """HGETALL of each queue's totals, in one pipeline."""
        pipe = self._client.pipeline(transaction=False)
        for queue in queues:
            pipe.hgetall(self._keys.totals(queue))
        return [parse_totals(reply) for reply in self._replies(pipe)]

    def history_counts(
        self, queues: Sequence[str], resolution: Resolution, since: float, until: float
    ) -> list[list[tuple[float, str, Counts]]]:
        """HGETALL of each record of counts that meets ``[since, until)``, in one pipeline."""
        starts = record_starts(resolution, since, until)
        pipe = self._client.pipeline(transaction=False)
        for queue in queues:
            for start in starts:
                pipe.hgetall(self._keys.counts(resolution, start, queue))
        replies = iter(self._replies(pipe))
        found: list[list[tuple[float, str, Counts]]] = []
        for _queue in queues:
            counts: list[tuple[float, str, Counts]] = []
            for start in starts:
                counts.extend(parse_counts(next(replies), start, resolution, since, until))
            found.append(counts)
        return found

    def _replies(self, pipe: Any) -> list[Any]:
        """A pipeline's replies, a key of the wrong type read as absent (and logged)."""
        replies = pipe.execute(raise_on_error=False)
        for index, reply in enumerate(replies):
            if isinstance(reply, Exception):
                if not is_wrong_type(reply):
                    raise reply
                logger.warning("a key jq reads for metrics holds the wrong type (%s); read as absent", reply)
                replies[index] = None
        return cast("list[Any]", replies)
