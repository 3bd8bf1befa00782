"""The optional reads of the broker contract that dashboards and metrics make: the history of
outcomes (see :mod:`jq.broker.history`), and the :class:`QueueSnapshot` that
:meth:`jq.broker.Broker.queue_snapshots` returns (every queue's counts in one round trip).

:class:`MonitoringStore` has a default for each method, answering "no history", so a driver
written before it still loads; jq's drivers implement all of it, each read in one round trip (a
pipeline on Redis, one block on a store).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from jq.broker.history import Counts, Resolution
from jq.broker.types import PlaceKind

__all__ = ["SNAPSHOT_PLACES", "MonitoringStore", "QueueSnapshot"]

#: The places a :class:`QueueSnapshot` counts: the queue and each of its registries.
SNAPSHOT_PLACES: tuple[PlaceKind, ...] = tuple(PlaceKind)


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    """What one queue holds at one moment: ``counts`` of the ids in the queue and in each of its
    registries (every :class:`~jq.broker.PlaceKind`), ``head``: the id at the front of the queue
    (the next one out), or None when it is empty, and ``head_fields``: the fields asked for of
    that job's record, each None when the record lacks it (or is gone); empty without a head."""

    queue: str
    counts: Mapping[PlaceKind, int]
    head: str | None = None
    head_fields: Mapping[str, bytes | None] = field(default_factory=dict)


class MonitoringStore:
    """Reads for dashboards and metrics, none of them atomic (each count is exact at its own moment).

    :meth:`~jq.broker.Broker.queue_snapshots` works on every driver. The history is kept by drivers whose
    :attr:`supports_history` is True: such a driver counts the :attr:`~jq.broker.Transition.tally`
    of every transition it makes, in the same atomic step, as :mod:`jq.broker.history` describes,
    and answers :meth:`history_totals` and :meth:`history_counts` from what it counted. A driver
    without history makes the transitions all the same, counts nothing and answers with none.
    """

    #: Whether this driver counts tallies (see :mod:`jq.broker.history`).
    supports_history: bool = False

    def history_totals(self, queues: Sequence[str]) -> list[dict[str, Counts]]:
        """Each queue's totals by function, in the order given (see :mod:`jq.broker.history`);
        one round trip where the store allows. A driver without history has none."""
        return [{} for _queue in queues]

    def history_counts(
        self, queues: Sequence[str], resolution: Resolution, since: float, until: float
    ) -> list[list[tuple[float, str, Counts]]]:
        """Each queue's counts per bucket of ``resolution`` whose start is in ``[since, until)``
        (Unix seconds), as (bucket start, function, counts), in no particular order; one round
        trip where the store allows. Buckets with nothing counted, or expired, are left out. A
        driver without history has none."""
        return [[] for _queue in queues]
