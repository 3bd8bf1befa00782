"""A clock for jq's due times that moves only when a test says so.

Install it as jq's scheduling clock (:mod:`jq.clock`) and ``enqueue_in``, ``Retry`` intervals
and every scheduler count from it: ``clock.advance(minutes=10)`` makes the jobs due within those
ten minutes due, and :func:`jq.testing.run_until_idle` runs them, with no sleep in the test and
``time.time`` untouched. The ``jq_clock`` fixture of jq's pytest plugin is one, installed.
"""

from __future__ import annotations

import contextlib
import datetime
import time
from collections.abc import Iterator

from jq.base.clock import use_scheduling_clock
from jq.exceptions import ConfigurationError

__all__ = ["ManualClock"]

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_ONE_MICROSECOND = datetime.timedelta(microseconds=1)


class ManualClock:
    """Time that stands still until :meth:`advance` or :meth:`advance_to` moves it on.

    :param start: where it starts (an aware or naive-UTC datetime, or seconds since the epoch);
        by default the current time, cut to the whole second.

    The time is kept in whole microseconds, the resolution of ``datetime``, so that a job
    enqueued with ``enqueue_in(timedelta(minutes=10))`` is due exactly when the clock has been
    advanced ten minutes, however the two were computed.
    """

    #: Not a test class, whatever pytest thinks of its name in a test module's namespace.
    __test__ = False

    def __init__(self, start: datetime.datetime | float | None = None) -> None:
        if start is None:
            start = float(int(time.time()))
        self._micros = self._micros_of(start)

    @staticmethod
    def _micros_of(moment: datetime.datetime | float) -> int:
        if isinstance(moment, datetime.datetime):
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=datetime.timezone.utc)
            return (moment - _EPOCH) // _ONE_MICROSECOND
        if isinstance(moment, int | float) and not isinstance(moment, bool):
            return round(moment * 1_000_000)
        raise ConfigurationError(
            f"a clock starts at a datetime or at seconds since the epoch, not {moment!r}"
        )

    def time(self) -> float:
        """Now, in seconds since the epoch (what :func:`jq.clock.scheduling_time` returns)."""
        return self._micros / 1_000_000

    def __call__(self) -> float:
        """:meth:`time`: the clock is itself a clock source for :func:`use_scheduling_clock`."""
        return self.time()

    def now(self) -> datetime.datetime:
        """Now, as a timezone-aware UTC datetime: compute ``enqueue_at`` times from it."""
        return _EPOCH + datetime.timedelta(microseconds=self._micros)

    def advance(
        self, delta: datetime.timedelta | float | None = None, /, **units: float
    ) -> datetime.datetime:
        """Move the clock on by ``delta`` (a timedelta or seconds) or by ``timedelta``'s keyword
        units (``minutes=10``, ``hours=1``...); returns the new now. It never goes back."""
        if delta is None:
            delta = datetime.timedelta(**units)
        elif units:
            raise ConfigurationError("advance() takes a timedelta or seconds, or keyword units, not both")
        if not isinstance(delta, datetime.timedelta):
            if isinstance(delta, bool) or not isinstance(delta, int | float):
                raise ConfigurationError(f"advance() takes a timedelta or seconds, not {delta!r}")
            delta = datetime.timedelta(seconds=delta)
        if delta < datetime.timedelta(0):
            raise ConfigurationError(f"the clock only moves forward; advance({delta!r}) would move it back")
        self._micros += delta // _ONE_MICROSECOND
        return self.now()

    def advance_to(self, moment: datetime.datetime) -> datetime.datetime:
        """Move the clock on to ``moment`` (naive: UTC); returns it. It never goes back."""
        micros = self._micros_of(moment)
        if micros < self._micros:
            raise ConfigurationError(
                f"the clock only moves forward: it is {self.now().isoformat()}, after {moment.isoformat()}"
            )
        self._micros = micros
        return self.now()

    @contextlib.contextmanager
    def installed(self) -> Iterator[ManualClock]:
        """Within the block, jq's due times and schedulers follow this clock (see :mod:`jq.clock`)."""
        with use_scheduling_clock(self.time):
            yield self

    def __repr__(self) -> str:
        return f"ManualClock({self.now().isoformat()})"
