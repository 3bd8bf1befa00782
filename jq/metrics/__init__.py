"""jq's metrics: what the store says about its queues, read cheaply.

* :func:`read_stats`: every queue's counts by status and latency, and the workers by state
  (:mod:`jq.metrics.snapshot`);
* :func:`history` and :func:`history_by`: the outcomes of the last hours and days as
  per-minute series with p50/p95 run times, per queue and function (:mod:`jq.metrics.history`);
* :func:`read_totals`: the outcomes since each queue's first, by function;
* :mod:`jq.metrics.prometheus`: a Prometheus collector, a WSGI app serving ``/metrics`` and the
  exporter behind ``jqueue metrics`` (it needs ``prometheus-client``: ``pip install
  'jq-queue[metrics]'``).

See docs/observability.md.
"""

from jq.metrics.history import History, HistoryPoint, history, history_by
from jq.metrics.snapshot import QueueStats, StoreStats, read_stats, read_totals

__all__ = [
    "History",
    "HistoryPoint",
    "QueueStats",
    "StoreStats",
    "history",
    "history_by",
    "read_stats",
    "read_totals",
]
