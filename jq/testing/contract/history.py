"""Contract tests for :class:`jq.broker.MonitoringStore`: the history of outcomes that
transitions' tallies count, for drivers that keep one."""

from __future__ import annotations

import math

import pytest

from jq.broker import (
    EXECUTION,
    STATUS,
    Broker,
    ClaimRequest,
    Counts,
    Move,
    Outcome,
    PlaceKind,
    RecordEdit,
    Resolution,
    Tally,
    ToQueue,
    ToRegistry,
    Transition,
)
from jq.broker.history import FUNCTIONS_KEPT, OTHER_FUNCTION, RUN_TIME_BOUNDS, run_time_bucket
from jq.testing.helpers import LEASE, enqueue, place, start_job

__all__ = ["HistoryContract"]

STARTED = place(PlaceKind.STARTED)
FINISHED = place(PlaceKind.FINISHED)
FAILED = place(PlaceKind.FAILED)
#: A moment whose minute, hour and day are known: 2030-01-01 10:37:30 UTC.
DAY = 1_893_456_000
AT = DAY + 10 * 3600 + 37 * 60 + 30


def _ended(
    broker: Broker, job_id: str, tally: Tally, queue: str = "default", *, execution: str | None = None
) -> bool:
    """Start job ``job_id`` (enqueued first) and end it with ``tally``: finished or failed as the
    tally says, back on its queue when retried."""
    enqueue(broker, job_id, queue)
    start_job(broker, job_id, queue)
    if tally.outcome is Outcome.RETRIED:
        move = Move(place(PlaceKind.STARTED, queue), ToQueue(queue))
    else:
        kind = PlaceKind.FINISHED if tally.outcome is Outcome.FINISHED else PlaceKind.FAILED
        move = Move(place(PlaceKind.STARTED, queue), ToRegistry(place(kind, queue), math.inf))
    status = {Outcome.FINISHED: b"finished", Outcome.FAILED: b"failed", Outcome.RETRIED: b"queued"}
    change = Transition(
        job_id, move, RecordEdit({STATUS: status[tally.outcome]}), execution_id=execution, tally=tally
    )
    return broker.transition(change)


def _histogram(*run_times: float) -> list[int]:
    buckets = [0] * (len(RUN_TIME_BOUNDS) + 1)
    for run_time in run_times:
        buckets[run_time_bucket(run_time)] += 1
    return buckets


def _counts(
    broker: Broker, resolution: Resolution, since: float, until: float
) -> dict[tuple[float, str], Counts]:
    [found] = broker.history_counts(["default"], resolution, since, until)
    return {(at, function): counts for at, function, counts in found}


class HistoryContract:
    """A transition that carries a tally counts it, in the same step, in its queue's totals and in
    its counts per minute and per hour (see :mod:`jq.broker.history`); a refused one counts
    nothing."""

    @pytest.fixture(autouse=True)
    def _needs_history(self, broker: Broker) -> None:
        if not broker.supports_history:
            pytest.skip(f"{type(broker).__name__} keeps no history")

    def test_a_queue_without_outcomes_has_no_history(self, broker: Broker) -> None:
        assert broker.history_totals(["default", "other"]) == [{}, {}]
        assert broker.history_counts(["default"], Resolution.MINUTE, AT - 3600, AT) == [[]]
        assert broker.history_totals([]) == []

    def test_tallies_are_counted_in_the_totals_by_function(self, broker: Broker) -> None:
        assert _ended(broker, "a", Tally("default", "app.send", Outcome.FINISHED, 0.02, at=AT))
        assert _ended(broker, "b", Tally("default", "app.send", Outcome.FINISHED, 3.0, at=AT))
        assert _ended(broker, "c", Tally("default", "app.send", Outcome.FAILED, 0.0004, at=AT))
        assert _ended(broker, "d", Tally("default", "app.bill", Outcome.RETRIED, 7200.0, at=AT))
        assert _ended(broker, "e", Tally("other", "app.send", Outcome.FINISHED, None, at=AT), "other")
        [default, other] = broker.history_totals(["default", "other"])
        assert default == {
            "app.send": Counts(2, 1, 0, _histogram(0.02, 3.0, 0.0004), 3.0204),
            "app.bill": Counts(0, 0, 1, _histogram(7200.0), 7200.0),
        }
        assert other == {"app.send": Counts(1, 0, 0, _histogram(), 0.0)}, "counted without a run time"

    def test_tallies_are_counted_per_minute_and_per_hour(self, broker: Broker) -> None:
        minute, hour = AT - 30, DAY + 10 * 3600
        assert _ended(broker, "a", Tally("default", "app.send", Outcome.FINISHED, 0.5, at=AT))
        assert _ended(broker, "b", Tally("default", "app.send", Outcome.FAILED, 0.5, at=AT + 29))
        assert _ended(broker, "c", Tally("default", "app.send", Outcome.FINISHED, 2.0, at=AT + 30))
        assert _ended(broker, "d", Tally("default", "app.send", Outcome.FINISHED, 2.0, at=AT + 3600))
        assert _counts(broker, Resolution.MINUTE, AT - 3600, AT + 7200) == {
            (minute, "app.send"): Counts(1, 1, 0, _histogram(0.5, 0.5)),
            (minute + 60, "app.send"): Counts(1, 0, 0, _histogram(2.0)),
            (minute + 3600, "app.send"): Counts(1, 0, 0, _histogram(2.0)),
        }
        assert _counts(broker, Resolution.HOUR, DAY, DAY + 86400) == {
            (hour, "app.send"): Counts(2, 1, 0, _histogram(0.5, 0.5, 2.0)),
            (hour + 3600, "app.send"): Counts(1, 0, 0, _histogram(2.0)),
        }

    def test_counts_are_read_for_the_buckets_that_start_in_the_range(self, broker: Broker) -> None:
        minute = AT - 30
        for n in range(3):
            assert _ended(broker, f"j{n}", Tally("default", "f", Outcome.FINISHED, 1.0, at=AT + 60 * n))
        assert set(_counts(broker, Resolution.MINUTE, minute + 60, minute + 120)) == {(minute + 60, "f")}
        assert set(_counts(broker, Resolution.MINUTE, minute + 1, minute + 121)) == {
            (minute + 60, "f"),
            (minute + 120, "f"),
        }
        assert set(_counts(broker, Resolution.MINUTE, minute - 7200, minute)) == set()
        assert _counts(broker, Resolution.MINUTE, minute + 60, minute + 60) == {}

    def test_a_refused_transition_counts_nothing(self, broker: Broker) -> None:
        tally = Tally("default", "app.send", Outcome.FINISHED, 1.0, at=AT)
        assert not _ended(broker, "a", tally, execution="not-its-execution")
        assert not broker.transition(Transition("ghost", tally=tally))
        assert broker.history_totals(["default"]) == [{}]
        assert _counts(broker, Resolution.HOUR, DAY, DAY + 86400) == {}

    def test_a_transition_without_a_move_counts_its_tally(self, broker: Broker) -> None:
        enqueue(broker, "a")
        assert broker.transition(Transition("a", tally=Tally("default", "f", Outcome.FAILED, at=AT)))
        assert broker.history_totals(["default"]) == [{"f": Counts(failed=1)}]

    def test_finish_and_claim_counts_the_tally_of_its_transition(self, broker: Broker) -> None:
        enqueue(broker, "a")
        enqueue(broker, "b")
        start_job(broker, "a")
        change = Transition(
            "a",
            Move(STARTED, ToRegistry(FINISHED, math.inf)),
            RecordEdit({STATUS: b"finished"}),
            tally=Tally("default", "f", Outcome.FINISHED, 0.2, at=AT),
        )
        moved, claimed = broker.finish_and_claim(change, ClaimRequest(["default"], {EXECUTION: b"n"}, LEASE))
        assert moved and claimed is not None and claimed.job_id == "b"
        assert broker.history_totals(["default"]) == [{"f": Counts(1, 0, 0, _histogram(0.2), 0.2)}]

    def test_functions_past_the_limit_are_counted_as_other(self, broker: Broker) -> None:
        enqueue(broker, "j")
        for n in range(FUNCTIONS_KEPT + 2):
            tally = Tally("default", f"app.f{n}", Outcome.FINISHED, 0.01, at=AT)
            assert broker.transition(Transition("j", tally=tally))
        again = Tally("default", "app.f0", Outcome.FAILED, 0.01, at=AT)
        assert broker.transition(Transition("j", tally=again))
        [totals] = broker.history_totals(["default"])
        assert len(totals) == FUNCTIONS_KEPT + 1
        assert totals[OTHER_FUNCTION] == Counts(2, 0, 0, _histogram(0.01, 0.01), 0.02)
        assert totals["app.f0"].finished == 1 and totals["app.f0"].failed == 1
        assert f"app.f{FUNCTIONS_KEPT}" not in totals
        per_minute = _counts(broker, Resolution.MINUTE, AT - 60, AT + 60)
        assert per_minute[(AT - 30, OTHER_FUNCTION)].finished == 2

    def test_counts_per_minute_are_kept_a_day_and_per_hour_a_month(self, broker: Broker) -> None:
        now = broker.now()
        long_ago = now - 3 * 86400
        assert _ended(broker, "a", Tally("default", "f", Outcome.FINISHED, 1.0, at=long_ago))
        assert _ended(broker, "b", Tally("default", "f", Outcome.FINISHED, 1.0, at=now - 60))
        assert broker.history_totals(["default"])[0]["f"].finished == 2, "the totals are kept for ever"
        minutes = _counts(broker, Resolution.MINUTE, now - 4 * 86400, now + 60)
        assert [counts.finished for counts in minutes.values()] == [1], "the minute of 3 days ago expired"
        hours = _counts(broker, Resolution.HOUR, now - 4 * 86400, now + 60)
        assert sorted(counts.finished for counts in hours.values()) == [1, 1]
        assert _ended(broker, "c", Tally("default", "f", Outcome.FINISHED, 1.0, at=now - 40 * 86400))
        assert sum(c.finished for c in _counts(broker, Resolution.HOUR, now - 50 * 86400, now).values()) == 2
