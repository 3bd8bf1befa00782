"""Run a Python script in a process whose wall clock is off by some seconds (clock-skew tests).

python tests/skewed.py SECONDS SCRIPT [ARGS...]

Before anything of jq is imported, :func:`time.time`, :func:`time.time_ns` and
``datetime.datetime.now`` / ``utcnow`` / ``today`` are shifted by ``SECONDS`` (negative: behind),
as on a machine whose clock is that far off. :func:`time.monotonic` is left alone: a machine's
monotonic clock does not follow its wall clock. Forked children (work horses) inherit the shift.
"""

from __future__ import annotations

import datetime
import runpy
import sys
import time


def shift(seconds: float) -> None:
    """Move this process's wall clock by ``seconds``."""
    real_time, real_time_ns = time.time, time.time_ns
    delta = datetime.timedelta(seconds=seconds)
    real_datetime = datetime.datetime

    def skewed_time() -> float:
        return real_time() + seconds

    def skewed_time_ns() -> int:
        return real_time_ns() + int(seconds * 1_000_000_000)

    class SkewedDatetime(real_datetime):
        @classmethod
        def now(cls, tz: datetime.tzinfo | None = None) -> SkewedDatetime:  # type: ignore[override]
            moment = real_datetime.now(tz) + delta
            return cls.combine(moment.date(), moment.timetz())

        @classmethod
        def utcnow(cls) -> SkewedDatetime:  # type: ignore[override]
            return cls.now(datetime.timezone.utc).replace(tzinfo=None)

        @classmethod
        def today(cls) -> SkewedDatetime:  # type: ignore[override]
            return cls.now()

    time.time = skewed_time
    time.time_ns = skewed_time_ns
    datetime.datetime = SkewedDatetime  # type: ignore[misc]


def main() -> None:
    """Shift the clock, then run the script as ``__main__`` with the remaining arguments."""
    seconds, script, *rest = sys.argv[1:]
    shift(float(seconds))
    sys.argv = [script, *rest]
    sys.path.insert(0, str(__import__("pathlib").Path(script).resolve().parent.parent))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
