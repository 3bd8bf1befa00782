"""The history of outcomes, read back: per-minute (or per-hour) series of finished, failed and
retried executions with their run times' p50 and p95, per queue and per function.

The store counts every outcome in the same step as the state change that records it (see
:mod:`jq.broker.history`); reading it back is one round trip. Counts per minute are kept for a
day and counts per hour for 30 days: :func:`history` reads the minutes when the window starts
within the last day, else the hours.

    from datetime import timedelta
    from jq.metrics import history

    last_hour = history("redis://localhost:6379/0", queue="default", since=timedelta(hours=1))
    for point in last_hour.points:
        print(point.at, point.finished, point.failed, point.p95)
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from jq.broker import Broker, Counts, Resolution
from jq.io.connections import resolve_broker

__all__ = ["History", "HistoryPoint", "Since", "history", "history_by", "read_counts", "read_totals"]

#: A moment: a timezone-aware datetime (a naive one is UTC), Unix seconds, or a timedelta that
#: far before now.
Since = datetime.datetime | datetime.timedelta | float | int

#: The window :func:`history` reads when none is given.
DEFAULT_WINDOW = datetime.timedelta(hours=1)


@dataclass(frozen=True)
class HistoryPoint:
    """One point of a series: the executions that ended in ``[at, at + step)`` (Unix seconds,
    UTC), and their run times' median and 95th percentile in seconds (None when none was timed:
    estimated from a histogram, see :meth:`jq.broker.Counts.quantile`)."""

    at: float
    finished: int
    failed: int
    retried: int
    p50: float | None
    p95: float | None

    @property
    def executions(self) -> int:
        """Every execution that ended in the step."""
        return self.finished + self.failed + self.retried

    @property
    def moment(self) -> datetime.datetime:
        """:attr:`at` as a UTC datetime."""
        return datetime.datetime.fromtimestamp(self.at, datetime.timezone.utc)


@dataclass(frozen=True)
class History:
    """A series of :class:`HistoryPoint`, one per ``step`` seconds from ``since`` to ``until``
    (steps without an execution have zero counts), of one queue and one function (None: all of
    them added up), and ``counts``: the whole window added up, whose p50 and p95 are
    :attr:`p50` and :attr:`p95`."""

    queue: str | None
    function: str | None
    since: float
    until: float
    step: int
    resolution: Resolution
    points: list[HistoryPoint]
    counts: Counts = field(default_factory=Counts)

    @property
    def finished(self) -> int:
        """Executions that finished in the window."""
        return self.counts.finished

    @property
    def failed(self) -> int:
        """Executions that failed for good in the window."""
        return self.counts.failed

    @property
    def retried(self) -> int:
        """Executions that failed (or asked for a retry) and went back to run again."""
        return self.counts.retried

    @property
    def p50(self) -> float | None:
        """The median run time over the window, in seconds."""
        return self.counts.quantile(0.5)

    @property
    def p95(self) -> float | None:
        """The 95th percentile of run times over the window, in seconds."""
        return self.counts.quantile(0.95)


def _moment(value: Since, now: float, name: str) -> float:
    """``value`` as Unix seconds (see :data:`Since`)."""
    if isinstance(value, datetime.timedelta):
        return now - value.total_seconds()
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise TypeError(
        f"{name} must be a datetime, a timedelta (that long ago) or Unix seconds, not {type(value).__name__}"
    )


@dataclass(frozen=True)
class _Window:
    since: float
    until: float
    resolution: Resolution
    step: int

    @classmethod
    def of(cls, broker: Broker, since: Since | None, until: Since | None, step: int | None) -> _Window:
        now = broker.now()
        end = now if until is None else _moment(until, now, "until")
        start = _moment(DEFAULT_WINDOW if since is None else since, now, "since")
        if start >= end:
            raise ValueError(f"since ({start}) must come before until ({end})")
        resolution = Resolution.MINUTE if start >= now - Resolution.MINUTE.kept else Resolution.HOUR
        if step is None:
            step = resolution.step
        elif not isinstance(step, int) or isinstance(step, bool) or step <= 0 or step % resolution.step:
            raise ValueError(
                f"step must be a whole number of {resolution.value}s ({resolution.step} seconds) over "
                f"this window, not {step!r}"
            )
        # Whole steps: the first starts at or before `since`, the last ends at or after `until`.
        first = math.floor(start / step) * step
        return cls(first, math.ceil(end / step) * step, resolution, step)

    def points(self) -> range:
        return range(int(self.since), int(self.until), self.step)


def read_counts(
    broker: Broker, queues: Sequence[str], resolution: Resolution, since: float, until: float
) -> Iterable[tuple[str, float, str, Counts]]:
    """Every count of ``queues`` in ``[since, until)`` at ``resolution``, as (queue, bucket start,
    function, counts): one round trip."""
    for queue, found in zip(queues, broker.history_counts(queues, resolution, since, until), strict=True):
        for at, function, counts in found:
            yield queue, at, function, counts


def _series(
    window: _Window, queue: str | None, function: str | None, found: Iterable[tuple[float, Counts]]
) -> History:
    steps: dict[int, Counts] = {}
    total = Counts()
    for at, counts in found:
        index = int(at) - (int(at) - int(window.since)) % window.step
        steps.setdefault(index, Counts()).add(counts)
        total.add(counts)
    points = []
    for at in window.points():
        counts = steps.get(at) or Counts()
        point = HistoryPoint(
            at, counts.finished, counts.failed, counts.retried, counts.quantile(0.5), counts.quantile(0.95)
        )
        points.append(point)
    return History(queue, function, window.since, window.until, window.step, window.resolution, points, total)


def _queues(broker: Broker, queue: str | Sequence[str] | None) -> list[str]:
    if queue is None:
        return sorted(broker.queue_names())
    return [queue] if isinstance(queue, str) else list(queue)


def history(
    connection: Any = None,
    *,
    queue: str | Sequence[str] | None = None,
    function: str | None = None,
    since: Since | None = None,
    until: Since | None = None,
    step: int | None = None,
) -> History:
    """The series of ``queue`` (a name, several, or None: every known queue) and ``function``
    (None: every function), from ``since`` (default: an hour ago) to ``until`` (default: now),
    one point per ``step`` seconds (default: a minute when the window starts within the last
    day, else an hour; a multiple of it adds them up). One round trip.

    ``connection``: a broker, a redis-py client or a URL, as ``Queue(connection=...)`` takes;
    None: the current :class:`~jq.Connection` or ``JQ_URL``. A store whose driver keeps no history
    has none: every count is zero.
    """
    broker = resolve_broker(connection)
    window = _Window.of(broker, since, until, step)
    names = _queues(broker, queue)
    found = (
        (at, counts)
        for _queue, at, name, counts in read_counts(
            broker, names, window.resolution, window.since, window.until
        )
        if function is None or name == function
    )
    return _series(window, queue if isinstance(queue, str) else None, function, found)


def history_by(
    connection: Any = None,
    by: Literal["function", "queue", "both"] = "function",
    *,
    queue: str | Sequence[str] | None = None,
    since: Since | None = None,
    until: Since | None = None,
    step: int | None = None,
) -> dict[Any, History]:
    """:func:`history` split by function (keys: function names), by queue (keys: queue names) or
    both (keys: (queue, function) pairs), for the series that have an execution in the window:
    one round trip for all of them. The arguments are :func:`history`'s."""
    if by not in ("function", "queue", "both"):
        raise ValueError(f"by must be 'function', 'queue' or 'both', not {by!r}")
    broker = resolve_broker(connection)
    window = _Window.of(broker, since, until, step)
    grouped: dict[Any, list[tuple[float, Counts]]] = {}
    for name, at, function, counts in read_counts(
        broker, _queues(broker, queue), window.resolution, window.since, window.until
    ):
        key = function if by == "function" else name if by == "queue" else (name, function)
        grouped.setdefault(key, []).append((at, counts))
    series = {}
    for key, found in sorted(grouped.items()):
        series_queue = key if by == "queue" else key[0] if by == "both" else None
        series_function = key if by == "function" else key[1] if by == "both" else None
        series[key] = _series(window, series_queue, series_function, found)
    return series


def read_totals(connection: Any = None, queues: Sequence[str] | None = None) -> dict[tuple[str, str], Counts]:
    """The outcomes since each queue's first, by (queue, function): finished, failed and retried
    executions and their run-time histogram and sum (the Prometheus counters). ``queues``: None
    for every known queue. One round trip; a store whose driver keeps no history has none."""
    broker = resolve_broker(connection)
    names = sorted(broker.queue_names()) if queues is None else list(queues)
    return {
        (queue, function): counts
        for queue, by_function in zip(names, broker.history_totals(names), strict=True)
        for function, counts in by_function.items()
    }
