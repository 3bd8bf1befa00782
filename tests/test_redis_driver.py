"""Tests of what is particular to the Redis driver: its scripts, round trips, clients and URLs.

The broker contract itself is checked for every driver by the shared conformance suite; these tests
look at the Redis side: the keys each script leaves behind, wake tokens, that each state change is
one round trip, decoding clients, the per-client cache and the plugin. Each test runs on a fakeredis
client and on the session's private redis-server, unless it needs real sockets or processes.
"""

from __future__ import annotations

import gc
import math
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, cast

import fakeredis
import pluggy
import pytest
import redis

from jq.broker import (
    RESULTS_KEPT,
    Claimed,
    DependentsPolicy,
    EnqueueOutcome,
    EnqueueRequest,
    Place,
    PlaceKind,
    RefusalReason,
    Transition,
)
from jq.defaults import DEFAULT_FAILURE_TTL
from jq.plugins import hookspecs
from jq_backends.keys import KeySpace
from jq_backends.redis import RedisBroker
from jq_backends.redis import plugin as redis_plugin
from jq_backends.redis.connection import clone_client, redact_url
from jq_backends.redis.scripts import SCRIPT_NAMES, ScriptRunner, script_source
from tests.redis_server import RedisServer

Q = "default"
KEYS = KeySpace()


def started(queue: str = Q) -> Place:
    return Place(PlaceKind.STARTED, queue)


def registry(kind: PlaceKind, queue: str = Q) -> Place:
    return Place(kind, queue)


def request(job_id: str, queue: str = Q, **kwargs: Any) -> EnqueueRequest:
    """An enqueue request whose record names its origin, as the core's records do."""
    fields = {"data": b"call:" + job_id.encode(), "origin": queue.encode(), **kwargs.pop("fields", {})}
    return EnqueueRequest(job_id, queue, fields, **kwargs)


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def snapshot(client: redis.Redis) -> dict[Any, Any]:
    """Every key with its type, content and whether it expires: to check that nothing was written."""
    state: dict[Any, Any] = {}
    for key in client.keys("*"):
        kind = client.type(key)
        if kind == b"hash":
            value: Any = client.hgetall(key)
        elif kind == b"list":
            value = client.lrange(key, 0, -1)
        elif kind == b"set":
            value = client.smembers(key)
        elif kind == b"zset":
            value = client.zrange(key, 0, -1, withscores=True)
        else:
            value = client.get(key)
        state[key] = (kind, value, client.pttl(key) > 0)
    return state


@pytest.fixture(params=["fakeredis", "redis"])
def client(request: pytest.FixtureRequest) -> redis.Redis:
    """A client of an empty store: a fake server, or the session's private redis-server."""
    return request.getfixturevalue(f"{request.param}_client")  # type: ignore[no-any-return]


@pytest.fixture
def rb(client: redis.Redis) -> RedisBroker:
    """A Redis broker on ``client``."""
    return RedisBroker(client)


@dataclass
class Counted:
    """A client whose connections count what they send: one send is one round trip."""

    client: redis.Redis
    sent: list[int]

    def trips(self, action: Callable[[], Any]) -> tuple[int, Any]:
        self.sent[0] = 0
        result = action()
        return self.sent[0], result


@pytest.fixture
def counted(client: redis.Redis) -> Iterator[Counted]:
    sent = [0]
    base = client.connection_pool.connection_class

    class CountingConnection(base):  # type: ignore[misc, valid-type]
        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            sent[0] += 1
            super().send_packed_command(command, check_health)

    counting = clone_client(client, connection_class=CountingConnection)
    for name in SCRIPT_NAMES:  # so every EVALSHA hits, as in a long-running process
        counting.script_load(script_source(name))
    counting.ping()  # the connection's handshake is not part of any operation
    try:
        yield Counted(counting, sent)
    finally:
        counting.close()


# -- scripts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_script_file_states_its_interface(name: str) -> None:
    text = script_source(name).split(f"-- {name}.lua:", 1)
    assert len(text) == 2, f"{name}.lua must start with a comment naming it"
    header = "".join(line for line in text[1].splitlines(keepends=True) if line.startswith("--"))
    for word in ("KEYS", "ARGV", "Returns", "tomically"):
        assert word in header, f"{name}.lua's header comment should state {word}"


def test_scripts_never_spell_a_key_name() -> None:
    for name in SCRIPT_NAMES:
        code = [line.split("--")[0] for line in script_source(name).splitlines()]
        assert not any("jq:" in line for line in code), name


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_each_script_compiles_on_the_server(client: redis.Redis, name: str) -> None:
    assert client.script_load(script_source(name))


def test_a_script_refuses_a_call_with_missing_keys(client: redis.Redis) -> None:
    runner = ScriptRunner(client)
    with pytest.raises(redis.ResponseError, match="needs at least 7"):
        runner("claim_job", [KEYS.job("a")], ["a", "1.0", 0])
    assert client.keys("*") == []


def test_a_custom_prefix_keeps_every_key_under_it(client: redis.Redis) -> None:
    rb = RedisBroker(client, prefix="{app}:")
    rb.enqueue(request("parent"))
    rb.enqueue(request("child", depends_on=["parent"]))
    claimed = rb.claim([Q], {"execution": b"e1"}, 100.0)
    assert claimed is not None
    rb.transition(
        Transition(
            "parent",
            started(),
            registry(PlaceKind.FINISHED),
            fields={"status": b"finished"},
            result=b"ok",
            dependents=DependentsPolicy.FINISHED,
        )
    )
    rb.enqueue(request("once", once=("tick", 1)))
    rb.acquire_lock("l", "t", 10)
    rb.register_worker("w", {"state": b"idle"}, [Q], 10)
    rb.worker_names(Q)
    rb.unregister_worker("w")
    assert rb.queue_job_ids(Q) == ["child", "once"]
    assert client.keys("*")
    keys = cast("list[bytes]", client.keys("*"))
    assert all(key.startswith(b"{app}:") for key in keys)
    assert rb.job_key("x") == "{app}:job:x"


def test_keyspace_template_plus_name_is_the_key() -> None:
    keys = KeySpace("p:")
    assert keys.template("job") + "abc" == keys.job("abc")
    assert keys.template("dependents") + "abc" == keys.dependents("abc")
    assert keys.template("workers-of") + "q" == keys.workers_of("q")
    assert keys.template("worker-queues") + "w" == keys.worker_queues("w")
    assert keys.template("deferred") + "q" == keys.registry(PlaceKind.DEFERRED, "q")
    with pytest.raises(ValueError, match="unknown key kind"):
        keys.template("jobs")


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


def test_enqueue_with_a_missing_dependency_writes_nothing(rb: RedisBroker, client: redis.Redis) -> None:
    rb.enqueue(request("present"))
    before = snapshot(client)
    outcome = rb.enqueue(request("x", queue="other", depends_on=["present", "gone", "lost", "gone"]))
    assert outcome == EnqueueOutcome(None, ("gone", "lost"), RefusalReason.MISSING)
    assert snapshot(client) == before


@pytest.mark.parametrize(
    ("refused", "reason"),
    [
        (request("running", unique=True), RefusalReason.DUPLICATE),
        (request("other", once=("tick", 7)), RefusalReason.ALREADY),
        (request("running", depends_on=["waiting"]), RefusalReason.CYCLE),
        (request("gone", depends_on=["nope"], once=("fresh", 1)), RefusalReason.MISSING),
    ],
    ids=["duplicate", "already", "cycle", "missing"],
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
    rb.transition(Transition("done", Place(PlaceKind.QUEUE, Q), None, fields={"status": b"finished"}))
    assert rb.enqueue(request("c", depends_on=["p1", "p2", "done"])) == EnqueueOutcome("deferred")
    assert client.smembers(KEYS.dependencies("c")) == {b"p1", b"p2"}
    assert client.smembers(KEYS.dependents("p1")) == {b"c"}
    assert client.smembers(KEYS.dependents("p2")) == {b"c"}
    assert not client.exists(KEYS.dependents("done"))
    assert rb.registry_ids(registry(PlaceKind.DEFERRED)) == ["c"]
    assert rb.load_job_fields("c", ["status"]) == [b"deferred"]


@pytest.mark.parametrize("status", [b"failed", b"stopped", b"canceled"])
def test_enqueue_cancels_on_a_failed_dependency_unless_failure_is_allowed(
    rb: RedisBroker, status: bytes
) -> None:
    rb.enqueue(request("p"))
    rb.update_job("p", {"status": status})
    began = time.time()
    assert rb.enqueue(request("c", depends_on=["p"])) == EnqueueOutcome("canceled")
    score = rb.registry_score(registry(PlaceKind.CANCELED), "c")
    assert score is not None and began + DEFAULT_FAILURE_TTL <= score <= time.time() + DEFAULT_FAILURE_TTL
    assert rb.enqueue(request("ok", depends_on=["p"], allow_failure=True)) == EnqueueOutcome("queued")


def test_a_job_canceled_at_enqueue_keeps_its_keys_for_its_failure_ttl(
    rb: RedisBroker, client: redis.Redis
) -> None:
    rb.save_job("broken", {"status": b"failed"})
    rb.enqueue(request("c"))
    start(rb, "c")
    rb.enqueue(request("waits-for-c", depends_on=["c"]))
    rb.transition(Transition("c", started(), None, fields={"status": b"failed"}, result=b"r"))
    for ttl, expiring in ((b"30", True), (b"-1", False)):
        change = request("c", depends_on=["broken"], record_ttl=5, fields={"failure_ttl": ttl})
        assert rb.enqueue(change) == EnqueueOutcome("canceled")
        assert rb.load_results("c") == [b"r"]
        assert [client.pttl(key) > 0 for key in data_keys("c")[:3]] == [expiring] * 3
        if expiring:
            assert 29_000 < client.pttl(KEYS.job("c")) <= 30_000
    assert rb.enqueue(request("c", depends_on=["broken"], fields={"failure_ttl": b"0"})).status == "canceled"
    assert not client.exists(*data_keys("c"))
    assert rb.registry_count(registry(PlaceKind.CANCELED)) == 0


def test_enqueue_schedules_when_dependencies_are_met(rb: RedisBroker) -> None:
    assert rb.enqueue(request("s", scheduled_at=1234.5)) == EnqueueOutcome("scheduled")
    assert rb.registry_score(registry(PlaceKind.SCHEDULED), "s") == 1234.5
    assert rb.queue_length(Q) == 0


def test_enqueue_many_is_one_transaction_and_survives_a_script_flush(
    rb: RedisBroker, client: redis.Redis
) -> None:
    outcomes = rb.enqueue_many([request("a"), request("b", depends_on=["a"]), request("c", depends_on=["z"])])
    missing = EnqueueOutcome(None, ("z",), RefusalReason.MISSING)
    assert outcomes == [EnqueueOutcome("queued"), EnqueueOutcome("deferred"), missing]
    client.script_flush()
    assert rb.enqueue_many([request("d"), request("e")]) == [EnqueueOutcome("queued")] * 2
    assert rb.queue_job_ids(Q) == ["a", "d", "e"], "the refused calls ran once, after the reload"
    client.script_flush()
    assert rb.enqueue(request("f")) == EnqueueOutcome("queued")
    assert rb.enqueue_many([]) == []


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


# -- transition -------------------------------------------------------------------------------------


def start(rb: RedisBroker, job_id: str, execution: bytes = b"e1", queue: str = Q) -> None:
    rb.enqueue(request(job_id, queue=queue))
    assert rb.claim_job(job_id, queue, {"execution": execution}, 100.0) is not None


def finish(job_id: str, **kwargs: Any) -> Transition:
    defaults: dict[str, Any] = {
        "source": started(),
        "target": registry(PlaceKind.FINISHED),
        "score": math.inf,
        "fields": {"status": b"finished"},
    }
    return Transition(job_id, **{**defaults, **kwargs})


def test_transition_moves_and_writes(rb: RedisBroker, client: redis.Redis) -> None:
    start(rb, "a")
    change = finish(
        "a",
        fields={"status": b"finished", "ended_at": b"t"},
        delete_fields=["execution"],
        result=b"r",
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
        change.source,
        registry(PlaceKind.FAILED),
        fields={"status": b"x"},
        delete_fields=["data"],
        result=b"r",
        record_ttl=0,
        execution_id=change.execution_id,
        dependents=DependentsPolicy.FINISHED,
    )
    assert not rb.transition(refused)
    assert snapshot(client) == before


def test_transition_from_a_queue_to_a_queue_wakes_claimers(rb: RedisBroker, client: redis.Redis) -> None:
    rb.enqueue_many([request("a"), request("b")])
    client.delete(KEYS.wake("other"))
    change = Transition("b", Place(PlaceKind.QUEUE, Q), Place(PlaceKind.QUEUE, "other"), at_front=True)
    assert rb.transition(change)
    assert rb.queue_job_ids(Q) == ["a"]
    assert rb.queue_job_ids("other") == ["b"]
    assert client.llen(KEYS.wake("other")) == 1
    assert rb.queue_names() == [Q, "other"], "a queue a job goes to becomes known"


def test_transition_without_source_needs_only_the_record(rb: RedisBroker) -> None:
    rb.save_job("loose", {"status": b"failed"})
    assert rb.transition(Transition("loose", None, registry(PlaceKind.FAILED), score=5.0))
    assert rb.registry_score(registry(PlaceKind.FAILED), "loose") == 5.0
    assert not rb.transition(Transition("nobody", None, None))


def test_results_keep_the_newest_entries(rb: RedisBroker) -> None:
    rb.save_job("a", {"status": b"started"})
    for n in range(RESULTS_KEPT + 3):
        assert rb.transition(Transition("a", None, None, result=str(n).encode()))
    results = rb.load_results("a")
    assert results == [str(n).encode() for n in reversed(range(3, RESULTS_KEPT + 3))]


def test_record_ttl_applies_to_record_and_results(rb: RedisBroker, client: redis.Redis) -> None:
    rb.save_job("a", {"status": b"started"}, record_ttl=1000)
    assert rb.transition(Transition("a", None, None, result=b"1"))  # KEEP
    assert 0 < client.pttl(KEYS.results("a")) <= 1000 * 1000
    assert rb.transition(Transition("a", None, None, record_ttl=-1))  # PERSIST
    assert client.pttl(KEYS.job("a")) == -1 and client.pttl(KEYS.results("a")) == -1
    assert rb.transition(Transition("a", None, None, record_ttl=30))
    assert rb.transition(Transition("a", None, None, record_ttl=-5))  # any negative: PERSIST
    assert client.pttl(KEYS.job("a")) == -1 and client.pttl(KEYS.results("a")) == -1
    assert rb.transition(Transition("a", None, None, result=b"2"))  # KEEP, no expiry
    assert client.pttl(KEYS.results("a")) == -1
    assert rb.transition(Transition("a", None, None, record_ttl=30))
    assert 29_000 < client.pttl(KEYS.job("a")) <= 30_000
    assert 29_000 < client.pttl(KEYS.results("a")) <= 30_000
    client.sadd(KEYS.dependents("a"), "x")
    client.sadd(KEYS.dependencies("a"), "y")
    assert rb.transition(Transition("a", None, registry(PlaceKind.FINISHED), record_ttl=0))
    for key in (KEYS.job("a"), KEYS.results("a"), KEYS.dependents("a"), KEYS.dependencies("a")):
        assert not client.exists(key), key
    assert rb.registry_ids(registry(PlaceKind.FINISHED)) == ["a"]


def data_keys(job_id: str) -> tuple[str, ...]:
    return (KEYS.job(job_id), KEYS.results(job_id), KEYS.dependents(job_id), KEYS.dependencies(job_id))


def expiring(client: redis.Redis, job_id: str) -> list[bool]:
    return [client.pttl(key) > 0 for key in data_keys(job_id)]


def test_results_and_dependency_sets_share_the_record_expiry(rb: RedisBroker, client: redis.Redis) -> None:
    rb.enqueue(request("p", record_ttl=100))
    rb.transition(Transition("p", None, None, result=b"r"))
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
    rb.transition(Transition("p", started(), None, record_ttl=30))
    assert expiring(client, "p") == [True, True, True, False]
    rb.enqueue(request("p"))
    assert expiring(client, "p") == [False, False, False, False]
    rb.enqueue(request("p", record_ttl=10))
    assert rb.claim_job("p", Q, {}, 1.0) is not None
    assert expiring(client, "p") == [False, False, False, False]


def test_released_fields_cannot_override_the_queued_status(rb: RedisBroker) -> None:
    start(rb, "p")
    rb.enqueue(request("c", depends_on=["p"]))
    change = finish("p", dependents=DependentsPolicy.FINISHED, released_fields={"status": b"deferred"})
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
    change = finish("p1", dependents=DependentsPolicy.FINISHED, released_fields={"enqueued_at": b"now"})
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


def test_failing_releases_only_dependents_that_allow_failure(rb: RedisBroker) -> None:
    start(rb, "p")
    rb.enqueue(request("strict", depends_on=["p"]))
    rb.enqueue(request("lenient", depends_on=["p"], fields={"allow_dependency_failures": b"1"}))
    change = finish(
        "p",
        target=registry(PlaceKind.FAILED),
        fields={"status": b"failed"},
        dependents=DependentsPolicy.FAILED,
    )
    assert rb.transition(change)
    assert rb.queue_job_ids(Q) == ["lenient"]
    assert rb.registry_ids(registry(PlaceKind.DEFERRED)) == []
    assert rb.registry_ids(registry(PlaceKind.CANCELED)) == ["strict"]
    assert rb.load_job_fields("strict", ["status"]) == [b"canceled"]


def test_canceled_dependents_keep_their_keys_for_their_failure_ttl(
    rb: RedisBroker, client: redis.Redis
) -> None:
    start(rb, "p")
    start(rb, "q", execution=b"e2")
    rb.enqueue(request("c", depends_on=["p", "q"], fields={"failure_ttl": b"40"}))
    rb.transition(Transition("c", None, None, result=b"earlier"))
    rb.enqueue(request("g", depends_on=["c"]))
    rb.enqueue(request("forever", depends_on=["p"], fields={"failure_ttl": b"-1"}))
    change = finish(
        "p",
        target=registry(PlaceKind.FAILED),
        fields={"status": b"failed"},
        dependents=DependentsPolicy.FAILED,
        default_failure_ttl=20,
        now=500.0,
        canceled_fields={"ended_at": b"t"},
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
    assert rb.transition(finish("p", dependents=DependentsPolicy.FINISHED))
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
    rb.transition(Transition("a", None, None, result=b"r"))
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
    rb.transition(Transition("p", None, None, result=b"r"))
    places = [started(), Place(PlaceKind.QUEUE, Q)]
    assert rb.delete_job("p", places)
    assert not client.exists(KEYS.job("p"), KEYS.results("p"), KEYS.dependents("p"))
    assert rb.registry_count(started()) == 0
    assert rb.load_job_fields("c", ["status"]) == [b"deferred"], "dependents are left as they are"
    assert not rb.delete_job("p")


def test_save_update_and_load(rb: RedisBroker, client: redis.Redis) -> None:
    binary = bytes(range(256))
    rb.save_job("a", {"data": binary, "status": b"queued"}, record_ttl=60)
    rb.transition(Transition("a", None, None, result=b"r"))
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
    assert client.keys("*") == []


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


# -- round trips ------------------------------------------------------------------------------------


def test_each_state_change_is_one_round_trip(counted: Counted) -> None:
    rb = RedisBroker(counted.client)
    trips = counted.trips
    assert trips(lambda: rb.enqueue(request("p")))[0] == 1
    assert trips(lambda: rb.enqueue(request("c", depends_on=["p"])))[0] == 1
    assert trips(lambda: rb.enqueue_many([request(f"m{n}", queue="many") for n in range(20)]))[0] == 1
    assert trips(lambda: rb.claim([Q], {"execution": b"e"}, 10.0))[0] == 1
    rb.enqueue(request("next"))
    assert trips(lambda: rb.claim([Q], {"execution": b"e2"}, 10.0, wait=5))[0] == 1
    assert trips(lambda: rb.claim_job("m0", "many", {"execution": b"e"}, 10.0))[0] == 1
    assert trips(lambda: rb.extend_lease(Q, "p", "e", 20.0))[0] == 1
    change = finish("p", result=b"r", execution_id="e", dependents=DependentsPolicy.FINISHED, record_ttl=50)
    count, moved = trips(lambda: rb.transition(change))
    assert (count, moved) == (1, True)
    assert trips(lambda: rb.promote_scheduled(Q, 100.0, {}))[0] == 1
    assert trips(lambda: rb.save_job("x", {"a": b"1"}, record_ttl=10))[0] == 1
    assert trips(lambda: rb.update_job("x", {"b": b"2"}))[0] == 1
    assert trips(lambda: rb.load_jobs([f"m{n}" for n in range(20)]))[0] == 1
    assert trips(lambda: rb.load_job_fields("x", ["a"]))[0] == 1
    assert trips(lambda: rb.load_results("p"))[0] == 1
    assert trips(lambda: rb.delete_job("x", [started()]))[0] == 1
    assert trips(lambda: rb.empty_queue("many"))[0] == 1
    assert trips(lambda: rb.delete_queue("many", delete_jobs=True))[0] == 1
    assert trips(lambda: rb.registry_cleanup(started(), 100.0))[0] == 1
    assert trips(lambda: rb.register_worker("w", {"s": b"1"}, ["a", "b"], 10))[0] == 1
    assert trips(lambda: rb.heartbeat_worker("w", {"s": b"2"}, 10, {"n": 1}))[0] == 1
    assert trips(lambda: rb.worker_names("a"))[0] == 1
    assert trips(lambda: rb.load_workers(["w", "v"]))[0] == 1
    assert trips(lambda: rb.unregister_worker("w"))[0] == 1
    assert trips(lambda: rb.acquire_lock("l", "t", 10))[0] == 1
    assert trips(lambda: rb.extend_lock("l", "t", 10))[0] == 1
    assert trips(lambda: rb.lock_owner("l"))[0] == 1
    assert trips(lambda: rb.release_lock("l", "t"))[0] == 1


def test_enqueue_and_failure_cascades_are_one_round_trip(counted: Counted) -> None:
    rb = RedisBroker(counted.client)
    trips = counted.trips
    start(rb, "p")
    rb.enqueue(request("c", depends_on=["p"]))
    assert trips(lambda: rb.enqueue(request("g", depends_on=["c"], unique=True, once=("m", 1))))[0] == 1
    assert trips(lambda: rb.enqueue(request("g", depends_on=["c"])))[0] == 1, "a replacement"
    change = finish("p", target=registry(PlaceKind.FAILED), dependents=DependentsPolicy.FAILED)
    assert trips(lambda: rb.transition(change)) == (1, True)
    assert rb.registry_count(registry(PlaceKind.CANCELED)) == 2


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


# -- clients, URLs, plugin --------------------------------------------------------------------------


def test_a_decoding_client_gets_a_binary_twin(client: redis.Redis) -> None:
    decoding = clone_client(client, decode_responses=True)
    try:
        rb = RedisBroker.for_client(decoding)
        assert rb.connection is decoding
        binary = bytes(range(256))
        rb.enqueue(request("a", fields={"data": binary}))
        claimed = rb.claim([Q], {"execution": b"e"}, 1.0)
        assert claimed is not None and claimed.record["data"] == binary
        assert rb.load_job("a") == claimed.record
        assert rb.queue_names() == [Q]
        rb.close()
        assert decoding.ping(), "closing the broker leaves the user's client alone"
        assert rb.job_exists("a"), "a closed twin reconnects when used again"
    finally:
        decoding.close()


def test_for_client_returns_one_broker_per_client(client: redis.Redis) -> None:
    first = RedisBroker.for_client(client)
    found: list[RedisBroker] = []
    threads = [
        threading.Thread(target=lambda: found.append(RedisBroker.for_client(client))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(found) == 8 and all(broker is first for broker in found)
    other = clone_client(client)
    try:
        assert RedisBroker.for_client(other) is not first
    finally:
        other.close()


def test_for_client_does_not_keep_clients_alive() -> None:
    fake = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    broker_ref = weakref.ref(RedisBroker.for_client(fake))
    client_ref = weakref.ref(fake)
    del fake
    gc.collect()
    assert broker_ref() is None and client_ref() is None


def test_shares_across_processes_only_on_a_real_server(
    fakeredis_client: redis.Redis, redis_client: redis.Redis
) -> None:
    assert RedisBroker(redis_client).shares_across_processes
    assert not RedisBroker(fakeredis_client).shares_across_processes


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://user:s3cret@db.example:6380/2", "redis://user:***@db.example:6380/2"),
        ("redis://:s3cret@db.example/0", "redis://:***@db.example/0"),
        ("rediss://db.example:6380/0?password=s3cret&ssl_cert_reqs=none", None),
        ("unix:///run/redis.sock?db=3&password=s3cret", "unix:///run/redis.sock?db=3&password=***"),
        ("redis://db.example:6379/0", "redis://db.example:6379/0"),
    ],
)
def test_url_never_shows_the_password(url: str, shown: str | None) -> None:
    broker = RedisBroker.from_url(url)
    try:
        assert "s3cret" not in broker.url and "s3cret" not in repr(broker)
        if shown is not None:
            assert broker.url == shown
        assert broker.shares_across_processes
    finally:
        broker.close()
    assert redact_url(url).partition("://")[0] == url.partition("://")[0]


def test_url_of_a_client_without_a_url(redis_client: redis.Redis, fakeredis_client: redis.Redis) -> None:
    port = redis_client.connection_pool.connection_kwargs["port"]
    secret = redis.Redis(host="127.0.0.1", port=port, username="u", password="s3cret", db=1)
    try:
        assert RedisBroker(secret).url == f"redis://u@127.0.0.1:{port}/1"
    finally:
        secret.close()
    assert RedisBroker(redis_client).url == f"redis://127.0.0.1:{port}/0"
    assert RedisBroker(fakeredis_client).url.startswith("fakeredis://")


def test_from_url_talks_to_the_server_and_owns_its_client(redis_server: RedisServer) -> None:
    broker = RedisBroker.from_url(redis_server.url, socket_timeout=3)
    broker.ping()
    assert broker.connection.connection_pool.connection_kwargs["socket_timeout"] == 3
    assert broker.url == redis_server.url
    broker.close()


def plugin_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.register(redis_plugin)
    return manager


def test_plugin_answers_redis_urls_only(redis_server: RedisServer) -> None:
    hook = plugin_manager().hook
    broker = hook.jq_broker_from_url(url=redis_server.url, options={"socket_timeout": 2})
    try:
        assert isinstance(broker, RedisBroker)
        broker.ping()
    finally:
        broker.close()
    for url in ("rediss://h:1/0", "unix:///tmp/none.sock", "REDIS://h/0"):
        other = hook.jq_broker_from_url(url=url, options={})
        assert isinstance(other, RedisBroker)
        other.close()
    assert hook.jq_broker_from_url(url="memory://", options={}) is None
    assert hook.jq_broker_from_url(url="not a url", options={}) is None


def test_plugin_wraps_redis_clients_only(client: redis.Redis) -> None:
    hook = plugin_manager().hook
    broker = hook.jq_broker_from_connection(connection=client)
    assert broker is RedisBroker.for_client(client)
    assert broker.connection is client
    assert hook.jq_broker_from_connection(connection=object()) is None
    assert hook.jq_broker_from_connection(connection="redis://h") is None


def test_lua_never_returns_floats() -> None:
    # Redis truncates a Lua number to an integer reply; scores must travel as strings.
    for name in SCRIPT_NAMES:
        code = "\n".join(line.split("--")[0] for line in script_source(name).splitlines())
        assert not re.search(r"return\s+tonumber", code), name
