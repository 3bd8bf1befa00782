"""The optional part of the broker contract that keeps the history of outcomes (see
:mod:`jq.broker.history`) and reads it back, for dashboards and metrics.

:class:`MonitoringStore` has a default for each method, answering "no history", so a driver
written before it still loads; jq's drivers implement all of it, each read in one round trip (a
pipeline on Redis, one block on a store).
"""

from __future__ import annotations

from collections.abc import Sequence

from jq.broker.history import Counts, Resolution

__all__ = ["MonitoringStore"]


class MonitoringStore:
    """The history of outcomes; its reads are not atomic (each count is exact at its own moment).

    The history is kept by drivers whose
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
