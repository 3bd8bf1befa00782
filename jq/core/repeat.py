"""Repeating a job after it succeeds (RQ 3.0's ``rq.repeat``): how many times, at what intervals.

A :class:`Repeat` is given to ``enqueue(..., repeat=Repeat(times=3, interval=60))``; the job's
record then counts its repeats left (``job.repeats_left``) and intervals
(``job.repeat_intervals``). Each success puts it back, in the same atomic step that records the
success (see :func:`jq.lifecycle.finish`); :meth:`Repeat.schedule` does it by hand, as in RQ.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from jq.base.utils import now, public_module

if TYPE_CHECKING:
    from jq.core.job import Job
    from jq.queueing.queue import Queue

__all__ = ["Repeat"]


class Repeat:
    """Run a job ``times`` more times after it succeeds, waiting ``interval`` seconds before each
    (a list of intervals: one per repeat, the last one reused when the list runs out).

    Raises ValueError for ``times`` below 1 or a negative interval, TypeError for an interval
    that is neither a number of seconds nor an iterable of them.
    """

    def __init__(self, times: int, interval: int | Iterable[int] | None = 0) -> None:
        if isinstance(times, bool) or not isinstance(times, int):
            raise TypeError(f"times must be a whole number of repeats (1 or more), not {times!r}")
        if times < 1:
            raise ValueError(f"times must be at least 1, not {times!r}")
        if isinstance(interval, int):
            intervals = [interval]
        elif isinstance(interval, Iterable) and not isinstance(interval, str | bytes):
            intervals = list(interval)
        else:
            raise TypeError(f"interval must be a number of seconds or a list of them, not {interval!r}")
        if not all(isinstance(value, int | float) and not isinstance(value, bool) for value in intervals):
            raise TypeError(f"interval must be a number of seconds or a list of them, not {interval!r}")
        if any(not value >= 0 for value in intervals):  # NaN is not >= 0 either
            raise ValueError(f"intervals cannot be negative: {intervals!r}")
        self.times = times
        self.intervals = intervals

    def __repr__(self) -> str:
        return f"Repeat(times={self.times!r}, intervals={self.intervals!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Repeat):
            return NotImplemented
        return (self.times, self.intervals) == (other.times, other.intervals)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    @classmethod
    def get_interval(cls, count: int, intervals: list[int]) -> int:
        """The interval before repeat number ``count`` (0-based): the last one once the list ends."""
        return intervals[count] if count < len(intervals) else intervals[-1]

    @classmethod
    def schedule(cls, job: Job, queue: Queue, pipeline: Any = None) -> datetime.datetime | None:
        """Put ``job`` back for its next repeat: at once when its next interval is 0 (returns
        None), else scheduled that many seconds from now (returns when). Decrements
        ``job.repeats_left``; ValueError when none is left."""
        left = getattr(job, "repeats_left", None)
        if not left or left <= 0:
            raise ValueError(f"job {job.id} has no repeats left")
        intervals: list[int] = list(getattr(job, "repeat_intervals", None) or [0])
        interval = cls.get_interval(0, intervals)
        job.repeat_intervals = intervals[1:] if len(intervals) > 1 else intervals
        job.repeats_left = left - 1
        if interval == 0:
            queue.enqueue_job(job, pipeline=pipeline)
            return None
        when = now() + datetime.timedelta(seconds=interval)
        queue.schedule_job(job, when, pipeline=pipeline)
        return when


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.repeat", Repeat)
