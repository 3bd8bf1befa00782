"""The history as the dashboard's charts draw it (:class:`jq.dashboard.extensions.History`): per
queue and function, jobs finished, failed and retried per minute and the run times' p50 and p95,
over the last minutes, hours or days.

    from jq.metrics.charts import HistoryCharts

    charts = HistoryCharts("redis://localhost:6379/0")
    charts.chart(queue="mail", function=None, minutes=60)
    # {"series": [{"name": "finished", "unit": "jobs per minute", "points": [[1796518440, 12.0], ...]},
    #             ..., {"name": "p95", "unit": "run time (s)", "points": [...]}], "step": 60, ...}
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from jq.broker import Resolution
from jq.io.connections import resolve_broker
from jq.metrics.history import history

__all__ = ["MAX_POINTS", "HistoryCharts"]

#: At most this many points per series: a longer window is drawn in longer steps.
MAX_POINTS = 240
#: The unit of each kind of series, which the dashboard draws one chart per.
RATE_UNIT = "jobs per minute"
TIME_UNIT = "run time (s)"


class HistoryCharts:
    """Charts of the history of the store ``connection`` names (a broker, a redis-py client or a
    URL, as ``Queue(connection=...)`` takes)."""

    def __init__(self, connection: Any = None) -> None:
        self.broker = resolve_broker(connection)

    def chart(self, *, queue: str | None, function: str | None, minutes: int) -> dict[str, Any]:
        """The series over the last ``minutes`` of ``queue`` and ``function`` (None: all of them
        added up): ``series``, each ``{"name", "unit", "points": [[unix seconds, value], ...]}``
        (finished, failed and retried in jobs per minute, one point per step; p50 and p95 in
        seconds, at the steps that timed an execution), ``step`` (seconds per point) and the
        window's ``totals`` (finished, failed, retried, p50, p95). One round trip."""
        if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes < 1:
            raise ValueError(f"minutes must be a whole number, at least 1, not {minutes!r}")
        resolution = Resolution.MINUTE if minutes * 60 <= Resolution.MINUTE.kept else Resolution.HOUR
        steps = math.ceil(minutes * 60 / resolution.step / MAX_POINTS)
        step = resolution.step * steps
        found = history(
            self.broker, queue=queue, function=function, since=datetime.timedelta(minutes=minutes), step=step
        )
        per_minute = 60 / step
        series = [
            {
                "name": outcome,
                "unit": RATE_UNIT,
                "points": [[point.at, getattr(point, outcome) * per_minute] for point in found.points],
            }
            for outcome in ("finished", "failed", "retried")
        ]
        for quantile in ("p50", "p95"):
            points = [[point.at, getattr(point, quantile)] for point in found.points]
            series.append(
                {"name": quantile, "unit": TIME_UNIT, "points": [p for p in points if p[1] is not None]}
            )
        totals = {
            "finished": found.finished,
            "failed": found.failed,
            "retried": found.retried,
            "p50": found.p50,
            "p95": found.p95,
        }
        return {"series": series, "step": step, "queue": queue, "function": function, "totals": totals}
