"""The Redis driver's history reads (:class:`jq.broker.MonitoringStore`), each one pipeline (not
a transaction: every count is exact at its own moment) whatever the number of queues.

The history is counted by the transition scripts (``lua/lib_history.lua``); here it is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from jq.broker import Counts, MonitoringStore, Resolution
from jq.broker.history import parse_counts, parse_totals, record_starts
from jq_backends.redis._base import RedisState, is_wrong_type, logger

__all__ = ["RedisMonitoring"]


class RedisMonitoring(RedisState, MonitoringStore):
    """The history's reads, one pipeline each."""

    supports_history = True

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
