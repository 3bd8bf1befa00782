"""The history's values (jq.broker.history): tallies, counts, quantiles and the stored fields,
whatever the driver; the conformance suite (jq.testing.contract.history) checks each driver."""

from __future__ import annotations

import math

import pytest

from jq.broker import Counts, Move, Outcome, Resolution, Tally, Transition
from jq.broker.history import (
    FUNCTION_NAME_LIMIT,
    RUN_TIME_BOUNDS,
    parse_counts,
    parse_totals,
    record_start,
    record_starts,
    run_time_bucket,
)
from jq.broker.store import RecordKind
from jq.testing.helpers import enqueue
from jq_backends.memory import MemoryBroker


def histogram(**buckets: int) -> list[int]:
    """Run-time buckets with counts, by bucket index (``b3=2``)."""
    counts = [0] * (len(RUN_TIME_BOUNDS) + 1)
    for name, count in buckets.items():
        counts[int(name[1:])] = count
    return counts


def test_a_run_time_falls_in_the_first_bucket_whose_bound_holds_it() -> None:
    assert run_time_bucket(0.0) == 0
    assert run_time_bucket(RUN_TIME_BOUNDS[0]) == 0, "bounds are inclusive, as Prometheus's le"
    assert run_time_bucket(0.0011) == 1
    assert run_time_bucket(RUN_TIME_BOUNDS[-1]) == len(RUN_TIME_BOUNDS) - 1
    assert run_time_bucket(1e9) == len(RUN_TIME_BOUNDS), "past the last bound: the last bucket"


def test_a_tally_codes_its_outcome_and_bucket() -> None:
    assert Tally("q", "f", Outcome.FINISHED, 0.0004).code == "f0"
    assert Tally("q", "f", Outcome.FAILED, 3.0).code == f"x{run_time_bucket(3.0)}"
    assert Tally("q", "f", Outcome.RETRIED).code == "r"
    assert Tally("q", "f", Outcome.FINISHED, 0.25).microseconds == 250_000
    assert Tally("q", "f", Outcome.FINISHED).microseconds == 0


def test_tally_of_checks_its_values() -> None:
    assert Tally.of("q", "f" * 500, Outcome.FINISHED).function == "f" * FUNCTION_NAME_LIMIT
    assert Tally.of("q", "f", "failed", 1.0).outcome is Outcome.FAILED  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="function name"):
        Tally.of("q", "", Outcome.FINISHED)
    for bad in (-1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="run time"):
            Tally.of("q", "f", Outcome.FINISHED, bad)


def test_quantiles_interpolate_within_a_bucket() -> None:
    assert Counts().quantile(0.5) is None, "nothing timed"
    # Four runs in (0.1, 0.25]: the median is half-way through that bucket.
    counts = Counts(finished=4, run_times=histogram(b7=4))
    assert RUN_TIME_BOUNDS[6:8] == (0.1, 0.25)
    assert counts.quantile(0.5) == pytest.approx(0.175)
    assert counts.quantile(1.0) == pytest.approx(0.25)
    # 95 fast runs and 5 slow ones: p50 among the fast, p95 at the top of the fast bucket.
    mixed = Counts(finished=100, run_times=histogram(b0=95, b9=5))
    assert mixed.quantile(0.5) == pytest.approx(0.001 * 50 / 95)
    assert mixed.quantile(0.95) == pytest.approx(0.001)
    assert RUN_TIME_BOUNDS[8:10] == (0.5, 1.0)
    assert mixed.quantile(0.99) == pytest.approx(0.5 + 0.5 * 4 / 5)
    # Past the last bound nothing can be interpolated: the last bound is the estimate.
    assert Counts(failed=1, run_times=histogram(b20=1)).quantile(0.5) == RUN_TIME_BOUNDS[-1]
    with pytest.raises(ValueError):
        counts.quantile(1.5)


def test_counts_add_up() -> None:
    total = Counts(1, 2, 3, histogram(b1=1), 0.5).add(Counts(1, 0, 1, histogram(b1=1, b2=1), 0.25))
    assert total == Counts(2, 2, 4, histogram(b1=2, b2=1), 0.75)
    assert total.executions == 8 and total.timed == 3


def test_totals_are_parsed_from_their_fields_and_junk_is_left_out() -> None:
    record = {
        "f4:app.send": b"2", "x:app.send": b"1", "s:app.send": b"30000", "k:app.send": b"1", "#": b"1",
        "r12:mod:with:colons": b"1", "f99:app.send": b"5", "z1:app.send": b"3", "fx:app.send": b"1",
        "f1:bad.value": b"many", "nocolon": b"1",
    }  # fmt: skip
    totals = parse_totals(record)
    assert totals["app.send"] == Counts(2, 1, 0, histogram(b4=2), 0.03)
    assert totals["mod:with:colons"] == Counts(retried=1, run_times=histogram(b12=1))
    assert totals["bad.value"] == Counts()
    assert set(totals) == {"app.send", "mod:with:colons", "bad.value"}
    assert parse_totals(None) == {} and parse_totals({b"f0:f": b"1"}) == {
        "f": Counts(1, 0, 0, histogram(b0=1))
    }


def test_counts_are_parsed_with_their_bucket_times_and_range() -> None:
    start = 7200
    record = {"0:f1:a": b"1", "37:x:a": b"2", "59:r3:b": b"1", "x:f1:a": b"1", "3:f1": b"1"}
    found = {
        (at, function): counts for at, function, counts in parse_counts(record, start, Resolution.MINUTE)
    }
    assert found == {
        (7200, "a"): Counts(finished=1, run_times=histogram(b1=1)),
        (7200 + 37 * 60, "a"): Counts(failed=2),
        (7200 + 59 * 60, "b"): Counts(retried=1, run_times=histogram(b3=1)),
    }
    ranged = parse_counts(record, start, Resolution.MINUTE, since=7260, until=7200 + 59 * 60)
    assert [(at, function) for at, function, _ in ranged] == [(7200 + 37 * 60, "a")]


def test_records_start_on_whole_spans_and_are_kept_past_them() -> None:
    assert record_start(7199.5, Resolution.MINUTE) == 3600
    assert record_start(86400 * 3 + 5, Resolution.HOUR) == 86400 * 3
    assert Resolution.MINUTE.deadline(3600) == 3600 + 3600 + 86400
    assert list(record_starts(Resolution.MINUTE, 3599, 7201)) == [0, 3600, 7200]
    assert list(record_starts(Resolution.MINUTE, 3600, 7200)) == [3600]
    assert list(record_starts(Resolution.HOUR, 10, 5)) == []
    with pytest.raises(ValueError, match="between two times"):
        record_starts(Resolution.HOUR, -math.inf, 5)


def test_a_store_drops_expired_counts_that_nobody_reads() -> None:
    """The memory store drops an expired record only when it is read: the rules list each record
    of counts by its expiry and drop those past it whenever a new one is made."""
    clock = [1_893_456_000.0]
    broker = MemoryBroker(clock=lambda: clock[0])
    enqueue(broker, "j")

    def tally() -> None:
        assert broker.transition(Transition("j", Move(), tally=Tally("default", "f", Outcome.FINISHED, 0.1)))

    def kept(kind: RecordKind) -> int:
        records, _deadlines, _sets = broker.store.snapshot()
        return len(records[kind])

    tally()
    assert (kept(RecordKind.MINUTES), kept(RecordKind.HOURS)) == (1, 1)
    clock[0] += 40 * 86400  # long past both records' expiry; nobody read them
    tally()
    assert (kept(RecordKind.MINUTES), kept(RecordKind.HOURS)) == (1, 1), "the old ones were dropped"
    assert kept(RecordKind.TOTALS) == 1 and broker.history_totals(["default"])[0]["f"].finished == 2
