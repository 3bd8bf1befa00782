"""Where the dashboard's optional parts plug in: the Prometheus ``/metrics`` application and the
per-minute history its charts draw.

Both come from jq's metrics layer (:mod:`jq.metrics`): :func:`default_metrics_app` is its
Prometheus app when ``prometheus-client`` is installed (``jq-queue[metrics]``), and
:func:`default_history` its charts when the store's driver keeps the history (jq's drivers do);
otherwise each finds nothing and the pages say so. A host application may also hand its own to
:func:`jq.dashboard.create_app` (``metrics_app=``, ``history=``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from jq.broker import Broker
from jq.exceptions import ConfigurationError
from jq.metrics.charts import HistoryCharts
from jq.metrics.prometheus import make_wsgi_app

__all__ = ["History", "WSGIApp", "default_history", "default_metrics_app"]

#: A WSGI application: ``app(environ, start_response) -> iterable of bytes``.
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: Shown where a part is missing.
METRICS_MISSING = "Prometheus metrics are not part of this installation of jq."
HISTORY_MISSING = "History charts need jq's per-minute history, which is not part of this installation."


class History(Protocol):
    """What the charts read: per-minute series of one queue (or all) and one function (or all).

    :meth:`chart` returns ``{"series": [{"name": str, "unit": str, "points": [[epoch_seconds,
    value], ...]}, ...]}``: jobs finished and failed per minute, and run time p50 and p95 in
    seconds, over the last ``minutes``.
    """

    def chart(self, *, queue: str | None, function: str | None, minutes: int) -> Mapping[str, Any]:
        """The series over the last ``minutes``."""
        ...


def default_metrics_app(broker: Broker) -> WSGIApp | None:
    """The ``/metrics`` WSGI application of jq's Prometheus collector for ``broker``, or None
    while ``prometheus-client`` is not installed (``/metrics`` then answers 404 with a line
    saying so)."""
    try:
        app: WSGIApp = make_wsgi_app(broker)
    except ConfigurationError:  # prometheus-client is not installed
        return None
    return app


def default_history(broker: Broker) -> History | None:
    """jq's per-minute history of ``broker``, or None when its driver keeps none (the overview
    then says so where the charts would be)."""
    return HistoryCharts(broker) if broker.supports_history else None
