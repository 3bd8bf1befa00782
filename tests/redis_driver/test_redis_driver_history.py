"""The Redis driver's history of outcomes: where it is stored, and that a key of the wrong type
never fails the transition that carries a tally (the conformance suite covers the rest)."""

from __future__ import annotations

import redis

from jq.broker import Counts, Move, Outcome, PlaceKind, RecordEdit, Resolution, Tally, ToRegistry, Transition
from jq.broker.history import RUN_TIME_BOUNDS, run_time_bucket
from jq_backends.redis import RedisBroker
from tests.redis_driver.support import KEYS, STARTED, Q, registry, request

#: 2030-01-01 10:37:30 UTC: the hour starts at 10:00, the day at midnight.
DAY = 1_893_456_000
AT = DAY + 10 * 3600 + 37 * 60 + 30


def _finish(rb: RedisBroker, job_id: str, tally: Tally) -> bool:
    rb.enqueue(request(job_id))
    assert rb.claim_job(job_id, Q, {"execution": b"x"}, 4e9) is not None
    move = Move(STARTED, ToRegistry(registry(PlaceKind.FINISHED), 4e9))
    return rb.transition(Transition(job_id, move, RecordEdit({"status": b"finished"}), tally=tally))


def test_a_tally_writes_the_documented_keys_and_fields(rb: RedisBroker, client: redis.Redis) -> None:
    assert _finish(rb, "a", Tally(Q, "app.send", Outcome.FINISHED, 0.02, at=AT))
    minutes = KEYS.counts(Resolution.MINUTE, DAY + 10 * 3600, Q)
    hours = KEYS.counts(Resolution.HOUR, DAY, Q)
    assert minutes == f"jq:history-minutes:{DAY + 36000}:{Q}" and hours == f"jq:history-hours:{DAY}:{Q}"
    totals = {b"f4:app.send": b"1", b"s:app.send": b"20000", b"k:app.send": b"1", b"#": b"1"}
    assert client.hgetall(KEYS.totals(Q)) == totals
    assert client.hgetall(minutes) == {b"37:f4:app.send": b"1"}
    assert client.hgetall(hours) == {b"10:f4:app.send": b"1"}
    # Each record expires as long after the end of its span as the history keeps it.
    assert client.expiretime(minutes) == DAY + 11 * 3600 + Resolution.MINUTE.kept
    assert client.expiretime(hours) == DAY + 86400 + Resolution.HOUR.kept
    assert client.ttl(KEYS.totals(Q)) == -1, "the totals are counters: they never expire"


def test_a_history_key_of_the_wrong_type_is_left_out(rb: RedisBroker, client: redis.Redis) -> None:
    client.set(KEYS.totals(Q), "not a hash")
    client.rpush(KEYS.counts(Resolution.HOUR, DAY, Q), "not a hash")
    assert _finish(rb, "a", Tally(Q, "app.send", Outcome.FINISHED, 0.02, at=AT)), "the job still finished"
    assert rb.load_job("a") is not None and rb.load_job("a")["status"] == b"finished"  # type: ignore[index]
    assert client.get(KEYS.totals(Q)) == b"not a hash"
    assert rb.history_totals([Q]) == [{}], "read as no totals"
    [minutes] = rb.history_counts([Q], Resolution.MINUTE, AT - 60, AT + 60)
    timed = [int(index == run_time_bucket(0.02)) for index in range(len(RUN_TIME_BOUNDS) + 1)]
    assert minutes == [(AT - 30, "app.send", Counts(finished=1, run_times=timed))]
    assert rb.history_counts([Q], Resolution.HOUR, DAY, DAY + 86400) == [[]]
