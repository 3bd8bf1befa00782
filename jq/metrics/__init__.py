"""jq's metrics: what the store says about what its queues did, read cheaply.

* :func:`history` and :func:`history_by`: the outcomes of the last hours and days as
  per-minute (or per-hour) series with p50/p95 run times, per queue and function;
* :func:`read_totals`: the outcomes since each queue's first, by queue and function;
* :mod:`jq.metrics.prometheus`: a Prometheus collector (with each queue's counts and latency
  and the workers by state, from :mod:`jq.admin.overview`), a WSGI app serving ``/metrics`` and
  the exporter behind ``jqueue metrics`` (it needs ``prometheus-client``: ``pip install
  'jq-queue[metrics]'``);
* :mod:`jq.metrics.charts`: the history as the dashboard's charts draw it.

See docs/observability.md.
"""

from jq.metrics.history import History, HistoryPoint, history, history_by, read_totals

__all__ = ["History", "HistoryPoint", "history", "history_by", "read_totals"]
