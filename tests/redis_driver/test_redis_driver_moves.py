"""Redis driver: transitions, dependents, promotion, queues, job records, workers and locks."""

from __future__ import annotations

import math

import pytest
import redis

from jq.broker import (
    RESULTS_KEPT,
    Cancellation,
    DependentsPolicy,
    Move,
    Place,
    PlaceKind,
    RecordEdit,
    ResultEntry,
    Settlement,
    ToQueue,
    ToRegistry,
    Transition,
)
from jq_backends.redis import RedisBroker
from tests.redis_driver.support import (
    KEYS,
    Q,
    expiring,
    finish,
    registry,
    request,
    snapshot,
    start,
    started,
    stored_keys,
)

# -- transition -------------------------------------------------------------------------------------


def test_transition_moves_and_writes(rb: RedisBroker, client: redis.Redis) -> None:
    start(rb, "a")
    change = finish(
        "a",
        edit=RecordEdit({"status": b"finished", "ended_at": b"t"}, delete_fields=["execution"]),
        result=ResultEntry(b"r"),
        execution_id="e1",
    )
    assert rb.transition(change)
    assert rb.registry_ids(started()) == []
    assert rb.registry_score(registry(PlaceKind.FINISHED), "a") == math.inf
    record = rb.load_job("a")
    assert record is not None and record["ended_at"] == b"t" and "execution" not in record
    assert rb.load_results("a") == [b"r"]


@pytest.mark.parametrize(
    "change",
    [
        finish("missing"),
        finish("a", execution_id="stale"),
        finish("a", source=registry(PlaceKind.FAILED)),
        finish("a", source=Place(PlaceKind.QUEUE, Q)),
    ],
    ids=["no-record", "stale-execution", "not-in-registry", "not-in-queue"],
)
def test_a_refused_transition_writes_nothing(
    rb: RedisBroker, client: redis.Redis, change: Transition
) -> None:
    start(rb, "a")
    rb.enqueue(request("child", depends_on=["a"]))
    before = snapshot(client)
    refused = Transition(
        change.job_id,
        Move(change.move.source, ToRegistry(registry(PlaceKind.FAILED), 0.0)),
        RecordEdit({"status": b"x"}, delete_fields=["data"], record_ttl=0),
        result=ResultEntry(b"r"),
        settlement=Settlement(DependentsPolicy.FINISHED),
        execution_id=change.execution_id,
    )
    assert not rb.transition(refused)
    assert snapshot(client) == before


def test_transition_from_a_queue_to_a_queue_wakes_claimers(rb: RedisBroker, client: redis.Redis) -> None:
    rb.enqueue_many([request("a"), request("b")])
    client.delete(KEYS.wake("other"))
    change = Transition("b", Move(Place(PlaceKind.QUEUE, Q), ToQueue("other", at_front=True)))
    assert rb.transition(change)
    assert rb.queue_job_ids(Q) == ["a"]
    assert rb.queue_job_ids("other") == ["b"]
    assert client.llen(KEYS.wake("other")) == 1
    assert rb.queue_names() == [Q, "other"], "a queue a job goes to becomes known"


def test_transition_without_source_needs_only_the_record(rb: RedisBroker) -> None:
    rb.save_job("loose", {"status": b"failed"})
    assert rb.transition(Transition("loose", Move(None, ToRegistry(registry(PlaceKind.FAILED), 5.0))))
    assert rb.registry_score(registry(PlaceKind.FAILED), "loose") == 5.0
    assert not rb.transition(Transition("nobody"))


def test_results_keep_the_newest_entries(rb: RedisBroker) -> None:
    rb.save_job("a", {"status": b"started"})
    for n in range(RESULTS_KEPT + 3):
        assert rb.transition(Transition("a", result=ResultEntry(str(n).encode())))
    results = rb.load_results("a")
    assert results == [str(n).encode() for n in reversed(range(3, RESULTS_KEPT + 3))]


def test_record_ttl_applies_to_record_and_results(rb: RedisBroker, client: redis.Redis) -> None:
    rb.save_job("a", {"status": b"started"}, record_ttl=1000)
    assert rb.transition(Transition("a", result=ResultEntry(b"1")))  # KEEP
    assert 0 < client.pttl(KEYS.results("a")) <= 1000 * 1000
    assert rb.transition(Transition("a", edit=RecordEdit(record_ttl=-1)))  # PERSIST
    assert client.pttl(KEYS.job("a")) == -1 and client.pttl(KEYS.results("a")) == -1
    assert rb.transition(Transition("a", edit=RecordEdit(record_ttl=30)))
    assert rb.transition(Transition("a", edit=RecordEdit(record_ttl=-5)))  # any negative: PERSIST
    assert client.pttl(KEYS.job("a")) == -1 and client.pttl(KEYS.results("a")) == -1
    assert rb.transition(Transition("a", result=ResultEntry(b"2")))  # KEEP, no expiry
    assert client.pttl(KEYS.results("a")) == -1
    assert rb.transition(Transition("a", edit=RecordEdit(record_ttl=30)))
    assert 29_000 < client.pttl(KEYS.job("a")) <= 30_000
    assert 29_000 < client.pttl(KEYS.results("a")) <= 30_000
    client.sadd(KEYS.dependents("a"), "x")
    client.sadd(KEYS.dependencies("a"), "y")
    assert rb.transition(
        Transition("a", Move(None, ToRegistry(registry(PlaceKind.FINISHED), 0.0)), RecordEdit(record_ttl=0))
    )
    for key in (KEYS.job("a"), KEYS.results("a"), KEYS.dependents("a"), KEYS.dependencies("a")):
        assert not client.exists(key), key
    assert rb.registry_ids(registry(PlaceKind.FINISHED)) == ["a"]


def test_results_and_dependency_sets_share_the_record_expiry(rb: RedisBroker, client: redis.Redis) -> None:
    rb.enqueue(request("p", record_ttl=100))
    rb.transition(Transition("p", result=ResultEntry(b"r")))
    rb.enqueue(request("c", depends_on=["p"], record_ttl=50))
    assert expiring(client, "p") == [True, True, True, False], "p's dependents share p's expiry"
    assert 99_000 < client.pttl(KEYS.dependents("p")) <= 100_000
    assert expiring(client, "c") == [True, False, False, True]
    rb.save_job("c", {"status": b"deferred"})
    assert expiring(client, "c") == [False, False, False, False]
    rb.save_job("c", {"status": b"deferred"}, record_ttl=20)
    assert expiring(client, "c") == [True, False, False, True]
    assert rb.claim([Q], {"execution": b"e"}, 1.0) is not None
    assert expiring(client, "p") == [False, False, False, False], "a started job never expires"
    rb.transition(Transition("p", Move(started()), RecordEdit(record_ttl=30)))
    assert expiring(client, "p") == [True, True, True, False]
    rb.enqueue(request("p"))
    assert expiring(client, "p") == [False, False, False, False]
    rb.enqueue(request("p", record_ttl=10))
    assert rb.claim_job("p", Q, {}, 1.0) is not None
    assert expiring(client, "p") == [False, False, False, False]


def test_released_fields_cannot_override_the_queued_status(rb: RedisBroker) -> None:
    start(rb, "p")
    rb.enqueue(request("c", depends_on=["p"]))
    released = {"status": b"deferred"}
    change = finish("p", settlement=Settlement(DependentsPolicy.FINISHED), released_fields=released)
    assert rb.transition(change)
    assert rb.load_job_fields("c", ["status"]) == [b"queued"]


def test_finishing_releases_dependents_whose_dependencies_are_all_met(
    rb: RedisBroker, client: redis.Redis
) -> None:
    start(rb, "p1")
    rb.enqueue(request("p2"))
    rb.enqueue(request("waiting", depends_on=["p1", "p2"]))
    rb.enqueue(request("front", queue="other", depends_on=["p1"], fields={"enqueue_at_front": b"1"}))
    rb.enqueue(request("behind", queue="other"))
    rb.enqueue(request("gone", depends_on=["p1"]))
    assert rb.dependent_ids("p1") == ["front", "gone", "waiting"]
    client.delete(KEYS.job("gone"))
    client.delete(KEYS.wake("other"))
    client.srem(KEYS.queues, "other")
    released = {"enqueued_at": b"now"}
    change = finish("p1", settlement=Settlement(DependentsPolicy.FINISHED), released_fields=released)
    assert rb.transition(change)
    assert rb.queue_job_ids("other") == ["front", "behind"]
    assert client.llen(KEYS.wake("other")) == 1
    assert "other" in rb.queue_names()
    assert rb.dependent_ids("p1") == []
    assert rb.load_job_fields("front", ["status", "enqueued_at"]) == [b"queued", b"now"]
    assert rb.registry_ids(registry(PlaceKind.DEFERRED, "other")) == []
    # A vanished dependent's id stays in its registry (its origin died with its record) until the
    # registry's maintenance drops it; only its litter keyed by its own id can be cleaned here.
    assert sorted(rb.registry_ids(registry(PlaceKind.DEFERRED))) == ["gone", "waiting"]
    assert client.smembers(KEYS.dependencies("waiting")) == {b"p2"}
    assert not client.exists(KEYS.dependents("p1"))
    assert not client.exists(KEYS.dependencies("gone")), "a vanished dependent's set is cleaned up"


def test_failing_releases_only_dependents_that_allow_failure(rb: RedisBroker, client: redis.Redis) -> None:
    start(rb, "p")
    rb.enqueue(request("strict", depends_on=["p"]))
    rb.enqueue(request("lenient", depends_on=["p"], fields={"allow_dependency_failures": b"1"}))
    change = finish(
        "p",
        target=ToRegistry(registry(PlaceKind.FAILED), math.inf),
        edit=RecordEdit({"status": b"failed"}, record_ttl=30),
        settlement=Settlement(DependentsPolicy.FAILED),
    )
    assert rb.transition(change)
    assert rb.queue_job_ids(Q) == ["lenient"]
    assert rb.registry_ids(registry(PlaceKind.DEFERRED)) == ["strict"]
    assert rb.registry_ids(registry(PlaceKind.CANCELED)) == []
    assert rb.load_job_fields("strict", ["status"]) == [b"deferred"]
    # The set of jobs still waiting lives as long as the failed job's record.
    assert client.smembers(KEYS.dependents("p")) == {b"strict"}
    assert 29_000 < client.pttl(KEYS.dependents("p")) <= 30_000


def test_canceled_dependents_keep_their_keys_for_their_failure_ttl(
    rb: RedisBroker, client: redis.Redis
) -> None:
    """Under VANISHED (a job that will never run), dependents are canceled and kept."""
    start(rb, "p")
    start(rb, "q", execution=b"e2")
    rb.enqueue(request("c", depends_on=["p", "q"], fields={"failure_ttl": b"40"}))
    rb.transition(Transition("c", result=ResultEntry(b"earlier")))
    rb.enqueue(request("g", depends_on=["c"]))
    rb.enqueue(request("forever", depends_on=["p"], fields={"failure_ttl": b"-1"}))
    change = finish(
        "p",
        target=ToRegistry(registry(PlaceKind.FAILED), math.inf),
        edit=RecordEdit({"status": b"failed"}),
        settlement=Settlement(DependentsPolicy.VANISHED, Cancellation({"ended_at": b"t"}, 20), now=500.0),
    )
    assert rb.transition(change)
    assert 39_000 < client.pttl(KEYS.job("c")) <= 40_000
    assert 39_000 < client.pttl(KEYS.results("c")) <= 40_000
    assert client.smembers(KEYS.dependencies("c")) == {b"q"}, "c no longer waits for p"
    assert 39_000 < client.pttl(KEYS.dependencies("c")) <= 40_000
    assert not client.exists(KEYS.dependents("c"), KEYS.dependents("p"))
    assert 19_000 < client.pttl(KEYS.job("g")) <= 20_000
    assert client.pttl(KEYS.job("forever")) == -1
    canceled = client.zrange(KEYS.registry(PlaceKind.CANCELED, Q), 0, -1, withscores=True)
    assert sorted(canceled) == [(b"c", 540.0), (b"forever", math.inf), (b"g", 520.0)]
    assert client.hget(KEYS.job("g"), "ended_at") == b"t"


def test_release_skips_dependents_that_are_no_longer_deferred(rb: RedisBroker) -> None:
    start(rb, "p")
    rb.enqueue(request("c", depends_on=["p"]))
    rb.update_job("c", {"status": b"canceled"})
    assert rb.transition(finish("p", settlement=Settlement(DependentsPolicy.FINISHED)))
    assert rb.queue_length(Q) == 0
    assert rb.load_job_fields("c", ["status"]) == [b"canceled"]


# -- scheduled, queues, jobs ------------------------------------------------------------------------


def test_promote_scheduled_queues_due_jobs_in_order(rb: RedisBroker, client: redis.Redis) -> None:
    rb.enqueue_many([request(f"s{n}", scheduled_at=float(n)) for n in (3, 1, 2, 9)])
    client.delete(KEYS.job("s1"))
    rb.delete_queue(Q, delete_jobs=False)
    promoted = rb.promote_scheduled(Q, 5.0, {"enqueued_at": b"t"}, limit=2)
    assert promoted == ["s2", "s3"], "the vanished s1 is dropped and does not count"
    assert rb.queue_job_ids(Q) == ["s2", "s3"]
    assert rb.registry_ids(registry(PlaceKind.SCHEDULED)) == ["s9"]
    assert rb.load_job_fields("s2", ["status", "enqueued_at"]) == [b"queued", b"t"]
    assert client.llen(KEYS.wake(Q)) == 1
    assert rb.queue_names() == [Q]
    assert rb.promote_scheduled(Q, 5.0, {}) == []
    assert rb.promote_scheduled(Q, math.inf, {}, limit=0) == []


def test_empty_and_delete_queue(rb: RedisBroker, client: redis.Redis) -> None:
    rb.enqueue_many([request("a"), request("b"), request("c", queue="keep")])
    rb.transition(Transition("a", result=ResultEntry(b"r")))
    assert rb.empty_queue(Q) == 2
    assert not client.exists(KEYS.job("a"), KEYS.job("b"), KEYS.results("a"), KEYS.queue(Q), KEYS.wake(Q))
    assert rb.queue_names() == ["default", "keep"]
    rb.delete_queue("keep", delete_jobs=False)
    assert rb.queue_names() == ["default"]
    assert rb.job_exists("c") and not client.exists(KEYS.queue("keep"), KEYS.wake("keep"))
    rb.enqueue(request("d"))
    rb.delete_queue(Q, delete_jobs=True)
    assert not rb.job_exists("d") and rb.queue_names() == []


def test_delete_job_removes_it_everywhere(rb: RedisBroker, client: redis.Redis) -> None:
    start(rb, "p")
    rb.enqueue(request("c", depends_on=["p"]))
    rb.transition(Transition("p", result=ResultEntry(b"r")))
    places = [started(), Place(PlaceKind.QUEUE, Q)]
    assert rb.delete_job("p", places)
    assert not client.exists(KEYS.job("p"), KEYS.results("p"), KEYS.dependents("p"))
    assert rb.registry_count(started()) == 0
    assert rb.load_job_fields("c", ["status"]) == [b"deferred"], "dependents are left as they are"
    assert not rb.delete_job("p")


def test_save_update_and_load(rb: RedisBroker, client: redis.Redis) -> None:
    binary = bytes(range(256))
    rb.save_job("a", {"data": binary, "status": b"queued"}, record_ttl=60)
    rb.transition(Transition("a", result=ResultEntry(b"r")))
    rb.save_job("a", {"data": b"new"})
    assert rb.load_job("a") == {"data": b"new"}, "replaced, not merged"
    assert rb.job_ttl("a") is None
    assert rb.load_results("a") == [b"r"], "results stay"
    assert rb.update_job("a", {"status": b"started", "data": binary})
    record = {"data": binary, "status": b"started"}
    assert rb.load_jobs(["a", "zz", "a"]) == [record, None, record]
    assert not rb.update_job("zz", {"x": b"1"}) and not rb.job_exists("zz")
    assert rb.load_job_fields("a", ["status", "nope"]) == [b"started", None]
    assert rb.load_job_fields("zz", ["status"]) is None
    assert rb.load_job_fields("a", []) == [] and rb.load_job_fields("zz", []) is None
    client.delete(KEYS.job("a"))
    assert rb.load_results("a") == [], "no results without a record"


def test_registry_scores_round_trip_infinity(rb: RedisBroker) -> None:
    place = registry(PlaceKind.FAILED)
    rb.registry_add(place, "forever", math.inf)
    rb.registry_add(place, "soon", 1700000000.123456)
    assert rb.registry_score(place, "forever") == math.inf
    assert rb.registry_score(place, "soon") == 1700000000.123456
    assert rb.registry_expired(place, 1e12) == ["soon"]
    assert rb.registry_cleanup(place, math.inf) == ["soon", "forever"]
    assert rb.registry_count(place) == 0
    with pytest.raises(ValueError, match="NaN"):
        rb.registry_add(place, "x", math.nan)


# -- workers ----------------------------------------------------------------------------------------


def test_worker_lifecycle_and_indexes(rb: RedisBroker, client: redis.Redis) -> None:
    assert rb.register_worker("w", {"state": b"idle", "done": b"0"}, ["a", "b"], 30)
    assert not rb.register_worker("w", {"state": b"other"}, ["c"], 30)
    assert rb.worker_names() == ["w"] and rb.worker_names("a") == ["w"] and rb.worker_names("c") == []
    assert 29_000 < client.pttl(KEYS.worker("w")) <= 30_000
    assert rb.heartbeat_worker("w", {"state": b"busy"}, 60, {"done": 1, "busy_time": 0.5})
    assert rb.heartbeat_worker("w", {}, 60, {"done": 1, "busy_time": 0.25})
    assert rb.load_workers(["w", "x"]) == [{"state": b"busy", "done": b"2", "busy_time": b"0.75"}, None]
    assert 59_000 < client.pttl(KEYS.worker_queues("w")) <= 60_000
    rb.unregister_worker("w")
    assert rb.worker_names() == [] and rb.worker_names("a") == []
    assert stored_keys(client) == []


def test_a_dead_worker_is_pruned_and_its_name_reusable(rb: RedisBroker, client: redis.Redis) -> None:
    rb.register_worker("w", {"state": b"idle"}, ["a"], 30)
    client.delete(KEYS.worker("w"), KEYS.worker_queues("w"))  # as when its record expires
    before = snapshot(client)
    assert not rb.heartbeat_worker("w", {"state": b"busy"}, 30, {"n": 1})
    assert snapshot(client) == before
    assert rb.register_worker("w", {"state": b"idle"}, ["b"], 30)
    assert rb.worker_names("a") == [], "the old incarnation's entry does not count"
    assert rb.worker_names("b") == ["w"]
    assert not client.sismember(KEYS.workers_of("a"), "w")


def test_a_worker_with_an_empty_record_is_alive(rb: RedisBroker) -> None:
    assert rb.register_worker("w", {}, ["a"], 30)
    assert rb.load_workers(["w"]) == [{}], "the field that keeps the hash in existence is not shown"
    assert rb.worker_names("a") == ["w"]
    assert rb.heartbeat_worker("w", {}, 30, {"n": 2})
    assert rb.load_workers(["w"]) == [{"n": b"2"}]


def test_heartbeat_refuses_to_increment_a_non_number(rb: RedisBroker, client: redis.Redis) -> None:
    rb.register_worker("w", {"state": b"idle"}, [], 30)
    before = snapshot(client)
    with pytest.raises(redis.ResponseError, match="state"):
        rb.heartbeat_worker("w", {"other": b"1"}, 30, {"state": 1})
    assert snapshot(client) == before


def test_locks_are_expiring_keys_holding_the_token(rb: RedisBroker, client: redis.Redis) -> None:
    assert rb.acquire_lock("scheduler:default", "me", 30)
    assert client.get(KEYS.lock("scheduler:default")) == b"me"
    assert 29_000 < client.pttl(KEYS.lock("scheduler:default")) <= 30_000
    assert rb.extend_lock("scheduler:default", "me", 100)
    assert 99_000 < client.pttl(KEYS.lock("scheduler:default")) <= 100_000
    assert not rb.extend_lock("scheduler:default", "you", 500)
    assert client.pttl(KEYS.lock("scheduler:default")) <= 100_000
    assert rb.release_lock("scheduler:default", "me")
    assert not client.exists(KEYS.lock("scheduler:default"))
