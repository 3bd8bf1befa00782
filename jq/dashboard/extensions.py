"""Where the dashboard's optional parts plug in: the Prometheus ``/metrics`` application and the
per-minute history its charts draw.

Both come from jq's metrics layer, which is built apart from the dashboard. Until it is there,
:func:`default_metrics_app` and :func:`default_history` find nothing and the pages say so; once it
is, each is the few lines that build it from the broker. A host application may also hand its
own to :func:`jq.dashboard.create_app` (``metrics_app=``, ``history=``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from jq.broker import Broker

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
    while the collector is not installed (``/metrics`` then answers 404 with a line saying so)."""
    return None


def default_history(broker: Broker) -> History | None:
    """jq's per-minute history of ``broker``, or None while it is not installed (the overview
    then says so where the charts would be)."""
    return None
