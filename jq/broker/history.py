"""The history of outcomes a broker keeps: what a :class:`Tally` counts, and how it is stored.

A transition that records how an execution ended (finished, failed, retried) may carry a
:class:`Tally` (:attr:`jq.broker.Transition.tally`); a driver that keeps history
(:attr:`jq.broker.MonitoringStore.supports_history`) counts it in the same atomic step, so the
history costs no round trip of its own. Per queue it keeps:

* **totals** since the queue's first tally, per function: finished, failed and retried
  executions, and a histogram of run times (:data:`RUN_TIME_BOUNDS`) with their sum. They never
  expire (they are Prometheus counters), and a queue counts at most :data:`FUNCTIONS_KEPT`
  functions by name: executions of any other function are counted under :data:`OTHER_FUNCTION`;
* **per-minute counts** (the same numbers, without the sum) for the last
  :attr:`Resolution.MINUTE.kept <Resolution.kept>` seconds, one record per queue and hour;
* **per-hour counts** for the last :attr:`Resolution.HOUR.kept <Resolution.kept>` seconds, one
  record per queue and day.

A record of counts is a flat mapping of field name to decimal text, whatever the driver (a Redis
hash, a store record), named by the functions of this module, so that every driver writes and
reads the same fields, each tally adding to as few as can be: ``<outcome><bucket>:<function>``
counts the executions of one outcome (:attr:`Outcome.code`: ``f``, ``x``, ``r``) whose run time
fell in one bucket (its index; no index: counted without a run time), so that one field holds
both the outcome's count and the histogram. A record of totals also has ``s:<function>`` (the
run times' sum, in whole microseconds), ``k:<function>`` (the function is counted by name) and
``#`` (how many functions are); in a record of counts per minute or per hour each field starts
with the bucket's offset in the record (``37:f4:<function>``: minute 37 of the hour). The
function is last: it may hold ``:``.
"""

from __future__ import annotations

import bisect
import enum
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final, NamedTuple

__all__ = [
    "COUNT_FIELD",
    "FUNCTIONS_KEPT",
    "FUNCTION_NAME_LIMIT",
    "KNOWN_CODE",
    "OTHER_FUNCTION",
    "RUN_TIME_BOUNDS",
    "SUM_CODE",
    "Counts",
    "Outcome",
    "Resolution",
    "Tally",
    "bucket_field",
    "parse_counts",
    "parse_totals",
    "record_start",
    "record_starts",
    "run_time_bucket",
    "totals_field",
]

#: The upper bounds (seconds, inclusive) of the run-time histogram's buckets; one more bucket
#: counts what is longer than the last. Coarse on purpose: a tally adds one to one bucket.
RUN_TIME_BOUNDS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
)  # fmt: skip

#: How many functions a queue counts by name; executions of any function past these are counted
#: under :data:`OTHER_FUNCTION`, so that what is stored (and every label set built from it) stays
#: bounded whatever the jobs are.
FUNCTIONS_KEPT: Final = 100
#: The name the executions of the functions past :data:`FUNCTIONS_KEPT` are counted under (no
#: job's function is named so: a job's function is a dotted path).
OTHER_FUNCTION: Final = "other"
#: A function name is cut to this many characters before it is counted.
FUNCTION_NAME_LIMIT: Final = 200

#: The field of a record of totals that counts the functions counted by name.
COUNT_FIELD: Final = "#"
#: The code of the field that marks a function as counted by name (totals only).
KNOWN_CODE: Final = "k"
#: The code of the field that sums a function's run times, in whole microseconds (totals only).
SUM_CODE: Final = "s"


class Outcome(str, enum.Enum):
    """How an execution ended, as its history counts it."""

    FINISHED = "finished"
    #: Failed for good (or stopped, or abandoned by its worker): no retry is left.
    FAILED = "failed"
    #: Failed, or returned ``Retry``, and goes back to run again.
    RETRIED = "retried"

    @property
    def code(self) -> str:
        """The code of the fields that count it (``f``, ``x``, ``r``)."""
        return _CODES[self]


_CODES: Final = {Outcome.FINISHED: "f", Outcome.FAILED: "x", Outcome.RETRIED: "r"}
_OUTCOMES: Final = {code: outcome for outcome, code in _CODES.items()}


def run_time_bucket(seconds: float) -> int:
    """The index of the run-time bucket that counts ``seconds``: the first whose bound is at
    least ``seconds``, or ``len(RUN_TIME_BOUNDS)`` when it is longer than every bound."""
    return bisect.bisect_left(RUN_TIME_BOUNDS, seconds)


class Tally(NamedTuple):
    """One execution's outcome, counted in its queue's history by the transition that records it.

    ``queue``: the queue the job ran from. ``function``: the job's function (its dotted path), at
    most :data:`FUNCTION_NAME_LIMIT` characters (:meth:`of` cuts a longer one). ``run_time``: how
    long the execution ran, in seconds (at least 0), or None when that is not known (a job whose
    worker died): it is then counted without a run time. ``at``: when it ended, by the store's
    clock; None: the broker's clock now.

    A named tuple rather than a dataclass: one is made for every job a worker runs.
    """

    queue: str
    function: str
    outcome: Outcome
    run_time: float | None = None
    at: float | None = None

    @classmethod
    def of(
        cls,
        queue: str,
        function: str,
        outcome: Outcome,
        run_time: float | None = None,
        at: float | None = None,
    ) -> Tally:
        """A tally with its values checked: an empty function name is refused, a long one cut, a
        run time that is no number of seconds refused."""
        if not function:
            raise ValueError("a Tally needs the job's function name")
        if run_time is not None and not (run_time >= 0 and math.isfinite(run_time)):
            raise ValueError(f"a run time is a finite number of seconds, at least 0, not {run_time!r}")
        return cls(queue, function[:FUNCTION_NAME_LIMIT], Outcome(outcome), run_time, at)

    @property
    def bucket(self) -> int | None:
        """The run-time bucket it adds one to, or None without a run time."""
        return None if self.run_time is None else bisect.bisect_left(RUN_TIME_BOUNDS, self.run_time)

    @property
    def code(self) -> str:
        """The code of the fields it adds one to: its outcome's, then its run-time bucket's index
        (none without a run time)."""
        if self.run_time is None:
            return _CODES[self.outcome]
        return f"{_CODES[self.outcome]}{bisect.bisect_left(RUN_TIME_BOUNDS, self.run_time)}"

    @property
    def microseconds(self) -> int:
        """What it adds to the sum of run times: its run time in whole microseconds (0 without)."""
        return 0 if self.run_time is None else round(self.run_time * 1_000_000)


class Resolution(enum.Enum):
    """How finely counts are kept: per minute for the last day, per hour for the last month."""

    MINUTE = "minute"
    HOUR = "hour"

    @property
    def step(self) -> int:
        """Seconds per bucket of counts."""
        return 60 if self is Resolution.MINUTE else 3600

    @property
    def span(self) -> int:
        """Seconds one record of counts covers (an hour of minutes, a day of hours), from a
        multiple of it (UTC)."""
        return 3600 if self is Resolution.MINUTE else 86400

    @property
    def kept(self) -> int:
        """For how long the counts are kept at least: a record expires this long after the end
        of the span it covers."""
        return 86400 if self is Resolution.MINUTE else 30 * 86400

    def deadline(self, start: float) -> float:
        """When the record of counts whose span starts at ``start`` expires."""
        return start + self.span + self.kept


def record_start(at: float, resolution: Resolution) -> int:
    """The start of the span of the record that counts a tally at ``at`` (Unix seconds)."""
    return int(at // resolution.span) * resolution.span


def record_starts(resolution: Resolution, since: float, until: float) -> range:
    """The starts of the records of ``resolution`` whose span meets ``[since, until)``."""
    if not (math.isfinite(since) and math.isfinite(until)):
        raise ValueError(f"the history is read between two times, not from {since!r} to {until!r}")
    if until <= since:
        return range(0)
    return range(record_start(since, resolution), math.ceil(until), resolution.span)


def totals_field(code: str, function: str) -> str:
    """The field of a record of totals that counts ``code`` for ``function``."""
    return f"{code}:{function}"


def bucket_field(offset: int, code: str, function: str) -> str:
    """The field of a record of counts that counts ``code`` for ``function`` in bucket ``offset``
    of the record's span."""
    return f"{offset}:{code}:{function}"


@dataclass(slots=True)
class Counts:
    """Executions of one function (or of several, added up) over some span: how many finished,
    failed and were retried, and how long they ran, as a histogram over :data:`RUN_TIME_BOUNDS`
    (``run_times[i]`` counts the run times of bucket ``i``; not cumulative). ``run_time_sum`` is
    kept in totals only (0 in the counts per minute or hour)."""

    finished: int = 0
    failed: int = 0
    retried: int = 0
    run_times: list[int] = field(default_factory=lambda: [0] * (len(RUN_TIME_BOUNDS) + 1))
    run_time_sum: float = 0.0

    @property
    def executions(self) -> int:
        """Every execution counted: finished, failed and retried."""
        return self.finished + self.failed + self.retried

    @property
    def timed(self) -> int:
        """The executions counted with a run time."""
        return sum(self.run_times)

    def add(self, other: Counts) -> Counts:
        """Add ``other``'s counts to these; returns self."""
        self.finished += other.finished
        self.failed += other.failed
        self.retried += other.retried
        self.run_time_sum += other.run_time_sum
        self.run_times = [mine + theirs for mine, theirs in zip(self.run_times, other.run_times, strict=True)]
        return self

    def quantile(self, q: float) -> float | None:
        """The run time below which a share ``q`` (0 to 1) of the timed executions ran, estimated
        from the histogram (linear within a bucket, as Prometheus's ``histogram_quantile``); the
        last bound when it falls past it; None with no timed execution."""
        if not 0 <= q <= 1:
            raise ValueError(f"a quantile is between 0 and 1, not {q!r}")
        total = self.timed
        if total == 0:
            return None
        rank = q * total
        below = 0
        for index, count in enumerate(self.run_times):
            if count and below + count >= rank:
                if index == len(RUN_TIME_BOUNDS):
                    return RUN_TIME_BOUNDS[-1]
                lower = RUN_TIME_BOUNDS[index - 1] if index else 0.0
                upper = RUN_TIME_BOUNDS[index]
                return lower + (upper - lower) * (rank - below) / count
            below += count
        return RUN_TIME_BOUNDS[-1]  # pragma: no cover - the loop ends at the last count

    def _count(self, code: str, value: bytes) -> None:
        """Add a stored field's value to what ``code`` counts (an unknown code is left out)."""
        if code == SUM_CODE:
            self.run_time_sum += int(value) / 1_000_000
            return
        outcome, bucket = _OUTCOMES.get(code[:1]), code[1:]
        if outcome is None or not (bucket.isdigit() or not bucket):
            return
        count = int(value)
        if bucket:
            if int(bucket) >= len(self.run_times):
                return
            self.run_times[int(bucket)] += count
        if outcome is Outcome.FINISHED:
            self.finished += count
        elif outcome is Outcome.FAILED:
            self.failed += count
        else:
            self.retried += count


def _text(name: str | bytes) -> str:
    return name.decode("utf-8", "replace") if isinstance(name, bytes) else name


def _fields(record: Mapping[str, bytes] | Mapping[bytes, bytes]) -> Iterator[tuple[str, bytes]]:
    for name, value in record.items():
        yield _text(name), value


def parse_totals(record: Mapping[str, bytes] | Mapping[bytes, bytes] | None) -> dict[str, Counts]:
    """The totals a record of totals holds, by function (none for no record). A field jq does
    not write, or whose value is no number, is left out."""
    totals: dict[str, Counts] = {}
    for name, value in _fields(record or {}):
        code, colon, function = name.partition(":")
        if not colon or code == KNOWN_CODE:
            continue
        try:
            totals.setdefault(function, Counts())._count(code, value)
        except ValueError:
            continue
    return totals


def parse_counts(
    record: Mapping[str, bytes] | Mapping[bytes, bytes] | None,
    start: float,
    resolution: Resolution,
    since: float = -math.inf,
    until: float = math.inf,
) -> Iterable[tuple[float, str, Counts]]:
    """The counts a record of ``resolution`` whose span starts at ``start`` holds, as (bucket
    start, function, counts), for the buckets that start in ``[since, until)``. A field jq does
    not write is left out."""
    found: dict[tuple[float, str], Counts] = {}
    for name, value in _fields(record or {}):
        offset, _colon, rest = name.partition(":")
        code, colon, function = rest.partition(":")
        if not colon or not offset.isdigit():
            continue
        at = start + int(offset) * resolution.step
        if not since <= at < until:
            continue
        try:
            found.setdefault((at, function), Counts())._count(code, value)
        except ValueError:
            continue
    return [(at, function, counts) for (at, function), counts in found.items()]
