"""Redis driver: enqueue, claim and the blocking claim (the keys each script leaves, wake tokens)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

import fakeredis
import pytest
import redis

from jq.broker import (
    Claimed,
    EnqueueOutcome,
    EnqueueRequest,
    Move,
    Place,
    PlaceKind,
    RecordEdit,
    RefusalReason,
    Transition,
)
from jq_backends.redis import RedisBroker
from jq_backends.redis.connection import clone_client
from tests.redis_driver.support import (
    KEYS,
    Q,
    registry,
    request,
    snapshot,
    start,
    started,
    stored_keys,
    wait_for,
)

# -- enqueue ----------------------------------------------------------------------------------------


def test_enqueue_queues_the_record_marks_the_queue_known_and_leaves_a_token(
    rb: RedisBroker, client: redis.Redis
) -> None:
    assert rb.enqueue(request("a")) == EnqueueOutcome("queued")
    assert rb.enqueue(request("b")) == EnqueueOutcome("queued")
    assert rb.enqueue(request("c", at_front=True)) == EnqueueOutcome("queued")
    assert client.lrange(KEYS.queue(Q), 0, -1) == [b"c", b"a", b"b"]
    assert client.hgetall(KEYS.job("a")) == {b"data": b"call:a", b"origin": b"default", b"status": b"queued"}
    assert client.smembers(KEYS.queues) == {Q.encode()}
    assert client.lrange(KEYS.wake(Q), 0, -1) == [b"1"], "one token, however many pushes"
    assert client.pttl(KEYS.job("a")) == -1


def test_enqueue_replaces_an_earlier_record_and_sets_its_expiry(rb: RedisBroker, client: redis.Redis) -> None:
    rb.enqueue(request("a", fields={"extra": b"1"}))
    rb.enqueue(request("a", record_ttl=100))
    assert b"extra" not in client.hgetall(KEYS.job("a"))
    ttl = rb.job_ttl("a")
    assert ttl is not None and 99 < ttl <= 100


def test_a_dependency_without_a_record_leaves_no_key(rb: RedisBroker, client: redis.Redis) -> None:
    rb.enqueue(request("present"))
    outcome = rb.enqueue(request("x", queue="other", depends_on=["present", "gone", "lost", "gone"]))
    assert outcome == EnqueueOutcome("deferred")
    assert client.smembers(KEYS.dependencies("x")) == {b"present"}
    assert not client.exists(KEYS.job("gone"), KEYS.dependents("gone"), KEYS.dependents("lost"))


@pytest.mark.parametrize(
    ("refused", "reason"),
    [
        (request("running", unique=True), RefusalReason.DUPLICATE),
        (request("other", once=("tick", 7)), RefusalReason.ALREADY),
        (request("running", depends_on=["waiting", "nope"]), RefusalReason.CYCLE),
    ],
    ids=["duplicate", "already", "cycle"],
)
def test_a_refused_enqueue_writes_no_key(
    rb: RedisBroker, client: redis.Redis, refused: EnqueueRequest, reason: RefusalReason
) -> None:
    start(rb, "running")
    rb.enqueue(request("waiting", depends_on=["running"]))
    rb.enqueue(request("ticked", once=("tick", 7)))
    before = snapshot(client)
    assert rb.enqueue(replace(refused, fields={**refused.fields, "new": b"1"})).reason is reason
    assert snapshot(client) == before


def test_once_sets_a_marker_that_never_expires(rb: RedisBroker, client: redis.Redis) -> None:
    assert rb.enqueue(request("a", once=("cron:0 * * * *", 1700000000.5), record_ttl=5)).status == "queued"
    assert client.get(KEYS.marker("cron:0 * * * *")) == b"1700000000.5"
    assert client.pttl(KEYS.marker("cron:0 * * * *")) == -1
    client.set(KEYS.marker("garbage"), b"not a number")
    assert rb.enqueue(request("b", once=("garbage", 1))).status == "queued", "no number counts as unset"
    assert client.get(KEYS.marker("garbage")) == b"1.0"


def test_replacement_leaves_no_trace_of_the_old_place(rb: RedisBroker, client: redis.Redis) -> None:
    start(rb, "p1")
    rb.enqueue(request("j", queue="old", depends_on=["p1"]))
    rb.enqueue(request("other", queue="old"))
    assert rb.enqueue(request("j", queue="new")) == EnqueueOutcome("queued")
    assert rb.registry_ids(registry(PlaceKind.DEFERRED, "old")) == []
    assert not client.exists(KEYS.dependents("p1"), KEYS.dependencies("j"))
    rb.enqueue(request("q"))
    assert rb.claim_job("other", "old", {}, 1.0) is not None
    assert client.exists(KEYS.wake(Q))
    assert rb.enqueue(request("q", queue="new")) == EnqueueOutcome("queued")
    assert not client.exists(KEYS.queue(Q), KEYS.wake(Q)), "the emptied old queue keeps no token"
    assert rb.queue_job_ids("new") == ["j", "q"]


def test_enqueue_defers_on_unmet_dependencies(rb: RedisBroker, client: redis.Redis) -> None:
    rb.enqueue(request("p1"))
    rb.enqueue(request("p2"))
    rb.enqueue(request("done"))
    rb.transition(Transition("done", Move(Place(PlaceKind.QUEUE, Q)), RecordEdit({"status": b"finished"})))
    assert rb.enqueue(request("c", depends_on=["p1", "p2", "done"])) == EnqueueOutcome("deferred")
    assert client.smembers(KEYS.dependencies("c")) == {b"p1", b"p2"}
    assert client.smembers(KEYS.dependents("p1")) == {b"c"}
    assert client.smembers(KEYS.dependents("p2")) == {b"c"}
    assert not client.exists(KEYS.dependents("done"))
    assert rb.registry_ids(registry(PlaceKind.DEFERRED)) == ["c"]
    assert rb.load_job_fields("c", ["status"]) == [b"deferred"]


@pytest.mark.parametrize("status", [b"failed", b"stopped", b"canceled"])
def test_enqueue_defers_behind_a_dependency_that_ended_badly(
    rb: RedisBroker, client: redis.Redis, status: bytes
) -> None:
    rb.enqueue(request("p", record_ttl=50))
    rb.update_job("p", {"status": status})
    assert rb.enqueue(request("c", depends_on=["p"])) == EnqueueOutcome("deferred")
    assert client.smembers(KEYS.dependents("p")) == {b"c"}
    assert 49_000 < client.pttl(KEYS.dependents("p")) <= 50_000, "it lives as long as p"
    assert rb.registry_count(registry(PlaceKind.CANCELED)) == 0
    allowed = rb.enqueue(request("ok", depends_on=["p"], allow_failure=True))
    assert allowed == EnqueueOutcome("queued" if status == b"failed" else "deferred")


def test_enqueue_schedules_when_dependencies_are_met(rb: RedisBroker) -> None:
    assert rb.enqueue(request("s", scheduled_at=1234.5)) == EnqueueOutcome("scheduled")
    assert rb.registry_score(registry(PlaceKind.SCHEDULED), "s") == 1234.5
    assert rb.queue_length(Q) == 0


def test_enqueue_many_is_one_script_and_survives_a_script_flush(rb: RedisBroker, client: redis.Redis) -> None:
    rb.save_job("u", {"status": b"queued"})
    client.persist(KEYS.job("u"))
    outcomes = rb.enqueue_many([request("a"), request("b", depends_on=["a"]), request("u", unique=True)])
    duplicate = EnqueueOutcome(None, reason=RefusalReason.DUPLICATE)
    batch = EnqueueOutcome(None, reason=RefusalReason.BATCH)
    assert outcomes == [batch, batch, duplicate]
    rb.delete_job("u")
    assert stored_keys(client) == [], "a refused batch writes nothing"
    assert rb.enqueue_many([request("a"), request("b", depends_on=["a"])]) == [
        EnqueueOutcome("queued"),
        EnqueueOutcome("deferred"),
    ]
    client.script_flush()
    assert rb.enqueue_many([request("d"), request("e")]) == [EnqueueOutcome("queued")] * 2
    assert rb.queue_job_ids(Q) == ["a", "d", "e"], "the refused call ran once, after the reload"
    client.script_flush()
    assert rb.enqueue(request("f")) == EnqueueOutcome("queued")
    assert rb.enqueue_many([]) == []


def test_the_fresh_enqueue_writes_what_the_general_script_writes(
    rb: RedisBroker, client: redis.Redis
) -> None:
    """enqueue_fresh.lua (plain new jobs) against enqueue.lua and enqueue_many.lua on the same
    requests: the same keys, values and expiries."""
    plain = [
        request("a", record_ttl=50),
        request("b", at_front=True),
        request("c", queue="other", fields={"status": b"bogus"}),  # the status written wins
    ]
    for one in plain:
        assert rb.enqueue(one) == EnqueueOutcome("queued")
    assert rb.enqueue_many([request("d"), request("e", at_front=True)]) == [EnqueueOutcome("queued")] * 2
    fresh = snapshot(client)
    client.flushdb()
    for one in plain:
        assert rb._enqueue_outcome(rb._scripts("enqueue", *rb._enqueue_call(one))) == EnqueueOutcome("queued")
    both = [request("d"), request("e", at_front=True)]
    calls = [rb._enqueue_call(one, last=index == 1) for index, one in enumerate(both)]
    rb._scripts("enqueue_many", calls[0][0] + calls[1][0], [2, *calls[0][1], *calls[1][1]])
    assert snapshot(client) == fresh
    assert rb.queue_job_ids(Q) == ["e", "b", "a", "d"]


def test_shared_fields_are_sent_once_and_store_what_whole_records_store(
    rb: RedisBroker, client: redis.Redis
) -> None:
    """EnqueueRequest.shared (enqueue_many's siblings): the shared fields go once per batch; a
    request's own value of a shared field wins; a batch whose requests do not all share the one
    mapping is sent whole. The stored keys are those of the same requests without it."""
    shared = {"origin": Q.encode(), "timeout": b"180", "created_at": b"2026-01-01T00:00:00Z"}

    def batch(with_shared: bool) -> list[EnqueueRequest]:
        made = []
        for job_id, own in (("a", {}), ("b", {"timeout": b"20"}), ("c", {"meta": b"m"})):
            fields = {**shared, "data": b"call:" + job_id.encode(), **own}
            made.append(request(job_id, fields=fields, shared=shared if with_shared else None))
        return made

    assert rb.enqueue_many(batch(True)) == [EnqueueOutcome("queued")] * 3
    sent_shared = snapshot(client)
    assert client.hget(KEYS.job("b"), "timeout") == b"20" and client.hget(KEYS.job("c"), "meta") == b"m"
    client.flushdb()
    assert rb.enqueue_many(batch(False)) == [EnqueueOutcome("queued")] * 3
    assert snapshot(client) == sent_shared
    client.flushdb()
    mixed = batch(True)
    mixed[1] = replace(mixed[1], shared=dict(shared))
    assert rb.enqueue_many(mixed) == [EnqueueOutcome("queued")] * 3
    assert snapshot(client) == sent_shared


def test_a_job_that_is_not_fresh_goes_to_the_general_script(rb: RedisBroker, client: redis.Redis) -> None:
    """A replacement, keys left over, or an id twice in a batch: the fresh script writes nothing
    and the general one does what it always did."""
    rb.enqueue(request("a", record_ttl=50))
    assert rb.enqueue(request("a", queue="other")) == EnqueueOutcome("queued")
    assert rb.queue_job_ids(Q) == [] and rb.queue_job_ids("other") == ["a"], "replaced"
    assert client.pttl(KEYS.job("a")) == -1
    client.rpush(KEYS.results("b"), b"old")
    assert rb.enqueue(request("b", record_ttl=50)) == EnqueueOutcome("queued")
    assert 0 < client.pttl(KEYS.results("b")) <= 50_000, "the results left over share the expiry"
    assert rb.enqueue_many([request("c"), request("c", queue="other")]) == [EnqueueOutcome("queued")] * 2
    assert rb.queue_job_ids(Q) == ["b"] and rb.queue_job_ids("other") == ["a", "c"], (
        "the second replaced the first"
    )


# -- claim ------------------------------------------------------------------------------------------


def test_claim_takes_from_the_first_non_empty_queue_in_order(rb: RedisBroker, client: redis.Redis) -> None:
    rb.enqueue(request("low1", queue="low"))
    rb.enqueue(request("high1", queue="high"))
    claimed = rb.claim(["empty", "high", "low"], {"execution": b"e1", "worker": b"w"}, 1000.5)
    assert claimed == Claimed(
        "high1",
        "high",
        {
            "data": b"call:high1",
            "origin": b"high",
            "status": b"started",
            "execution": b"e1",
            "worker": b"w",
        },
    )
    assert rb.registry_score(started("high"), "high1") == 1000.5
    second = rb.claim(["empty", "high", "low"], {"execution": b"e2"}, 1000.5)
    assert second is not None and second.job_id == "low1"
    assert rb.claim(["empty", "high", "low"], {"execution": b"e3"}, 1000.5) is None
    assert rb.claim([], {}, 1.0) is None


def test_claim_drops_ids_whose_record_is_gone_or_not_queued(rb: RedisBroker, client: redis.Redis) -> None:
    rb.enqueue_many([request("expired"), request("canceled"), request("good")])
    client.delete(KEYS.job("expired"))
    rb.update_job("canceled", {"status": b"canceled"})
    claimed = rb.claim([Q], {"execution": b"e"}, 1.0)
    assert claimed is not None and claimed.job_id == "good"
    assert rb.queue_length(Q) == 0
    assert rb.registry_ids(started()) == ["good"]
    assert rb.load_job_fields("canceled", ["status"]) == [b"canceled"]


def test_claim_removes_the_expiry(rb: RedisBroker) -> None:
    rb.enqueue(request("a", record_ttl=100))
    assert rb.job_ttl("a") is not None
    rb.claim([Q], {"execution": b"e"}, 1.0)
    assert rb.job_ttl("a") is None


def test_claim_keeps_the_token_matching_the_queue(rb: RedisBroker, client: redis.Redis) -> None:
    rb.enqueue_many([request("a"), request("b")])
    client.delete(KEYS.wake(Q))  # as if a blocked claimer took it with BLPOP
    rb.claim([Q], {"execution": b"e"}, 1.0)
    assert client.llen(KEYS.wake(Q)) == 1, "a second idle claimer must wake for b"
    rb.claim([Q], {"execution": b"e"}, 1.0)
    assert not client.exists(KEYS.wake(Q)), "an empty queue keeps no token"


def test_claim_gives_back_a_token_taken_from_another_of_its_queues(
    rb: RedisBroker, client: redis.Redis
) -> None:
    # A claimer of [a, b] woke on b's token but claims from a: a claimer of [b] must still wake.
    rb.enqueue(request("b1", queue="b"))
    client.delete(KEYS.wake("b"))
    rb.enqueue(request("a1", queue="a"))
    claimed = rb.claim(["a", "b"], {"execution": b"e"}, 1.0)
    assert claimed is not None and claimed.job_id == "a1"
    assert client.llen(KEYS.wake("b")) == 1


def test_claim_with_nothing_to_claim_removes_stale_tokens(rb: RedisBroker, client: redis.Redis) -> None:
    client.lpush(KEYS.wake(Q), b"1")
    assert rb.claim([Q], {}, 1.0) is None
    assert not client.exists(KEYS.wake(Q))


def test_claim_job_claims_a_given_job(rb: RedisBroker, client: redis.Redis) -> None:
    rb.enqueue_many([request("a"), request("b")])
    record = rb.claim_job("b", Q, {"execution": b"e"}, 55.0)
    assert record is not None and record["status"] == b"started" and record["execution"] == b"e"
    assert rb.queue_job_ids(Q) == ["a"]
    assert rb.registry_score(started(), "b") == 55.0
    assert client.llen(KEYS.wake(Q)) == 1
    assert rb.claim_job("a", Q, {}, 1.0) is not None
    assert not client.exists(KEYS.wake(Q))
    before = snapshot(client)
    assert rb.claim_job("missing", Q, {"execution": b"e"}, 1.0) is None
    assert snapshot(client) == before


def test_extend_lease_is_guarded_by_the_execution(rb: RedisBroker, client: redis.Redis) -> None:
    rb.enqueue(request("a"))
    rb.claim([Q], {"execution": b"e1"}, 10.0)
    assert rb.extend_lease(Q, "a", "e1", 20.0)
    assert rb.registry_score(started(), "a") == 20.0
    before = snapshot(client)
    assert not rb.extend_lease(Q, "a", "stale", 30.0)
    assert not rb.extend_lease(Q, "unknown", "e1", 30.0)
    assert not rb.extend_lease("other", "a", "e1", 30.0)
    assert snapshot(client) == before


# -- blocking claim ---------------------------------------------------------------------------------


def blocked_in_blpop(client: redis.Redis, count: int) -> Callable[[], bool]:
    """On a real server: whether ``count`` clients are blocked in BLPOP."""

    def check() -> bool:
        return sum(1 for entry in client.client_list() if entry.get("cmd") == "blpop") >= count

    return check


def test_blocked_claim_is_woken_by_an_enqueue_from_another_thread(client: redis.Redis) -> None:
    # No socket timeout: the claimer's BLPOP then lasts the whole wait unless a token comes, so
    # returning before the join bound proves the wake-up.
    claimer_client = clone_client(client, socket_timeout=None)
    claimer = RedisBroker(claimer_client)
    results: list[Claimed | None] = []
    thread = threading.Thread(target=lambda: results.append(claimer.claim(["other", Q], {}, 1.0, wait=60)))
    thread.start()
    try:
        if not isinstance(client, fakeredis.FakeRedis):
            wait_for(blocked_in_blpop(client, 1), "the claimer to block")
        RedisBroker(client).enqueue(request("a"))
        thread.join(timeout=20)
        assert not thread.is_alive(), "the enqueue did not wake the blocked claimer"
        assert results and results[0] is not None and results[0].job_id == "a"
    finally:
        thread.join(timeout=60)
        claimer_client.close()


@pytest.mark.redis_only
def test_two_idle_claimers_both_wake_for_two_jobs(redis_client: redis.Redis) -> None:
    clients = [clone_client(redis_client, socket_timeout=None) for _ in range(2)]
    results: list[Claimed | None] = []
    lock = threading.Lock()

    def claim(broker: RedisBroker) -> None:
        claimed = broker.claim([Q], {}, 1.0, wait=60)
        with lock:
            results.append(claimed)

    threads = [threading.Thread(target=claim, args=(RedisBroker(c),)) for c in clients]
    for thread in threads:
        thread.start()
    try:
        wait_for(blocked_in_blpop(redis_client, 2), "both claimers to block")
        RedisBroker(redis_client).enqueue_many([request("a"), request("b")])
        for thread in threads:
            thread.join(timeout=20)
            assert not thread.is_alive(), "a claimer slept through a job"
        assert sorted(claimed.job_id for claimed in results if claimed is not None) == ["a", "b"]
    finally:
        for thread in threads:
            thread.join(timeout=60)
        for c in clients:
            c.close()


def test_claim_wait_longer_than_the_socket_timeout_does_not_raise(client: redis.Redis) -> None:
    short = clone_client(client, socket_timeout=0.2)
    try:
        broker = RedisBroker(short)
        assert broker.claim([Q], {}, 1.0, wait=0.6) is None
        broker.enqueue(request("a"))
        claimed = broker.claim([Q], {}, 1.0, wait=0.6)
        assert claimed is not None and claimed.job_id == "a"
    finally:
        short.close()


@pytest.mark.redis_only
def test_concurrent_claimers_take_each_job_once(redis_client: redis.Redis) -> None:
    broker = RedisBroker(redis_client)
    total = 400
    claimed: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while not stop.is_set():
                job = broker.claim(["high", Q], {"execution": b"e"}, 1.0, wait=0.5)
                if job is not None:
                    with lock:
                        claimed.append(job.job_id)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        for start in range(0, total, 50):
            broker.enqueue_many(
                [request(f"j{n}", queue="high" if n % 3 == 0 else Q) for n in range(start, start + 50)]
            )
        wait_for(lambda: len(claimed) >= total or bool(errors), "every job to be claimed", timeout=60)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not errors
    assert not any(thread.is_alive() for thread in threads)
    assert sorted(claimed) == sorted(f"j{n}" for n in range(total)), "a job was claimed twice or never"
    assert broker.registry_count(started()) + broker.registry_count(started("high")) == total
