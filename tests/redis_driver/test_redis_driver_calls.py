"""Redis driver: what each call costs (round trips, arguments), the constants baked into the scripts
per key prefix, and the worker's hot loop on Redis (worker updates, finish_and_claim)."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import redis

from jq.broker import (
    Cancellation,
    ClaimRequest,
    DependentsPolicy,
    EnqueueOutcome,
    PlaceKind,
    RecordEdit,
    ResultEntry,
    Settlement,
    ToRegistry,
    WorkerUpdate,
)
from jq.testing.helpers import job_fields
from jq_backends.keys import KeySpace
from jq_backends.redis import RedisBroker
from jq_backends.redis.connection import clone_client
from jq_backends.redis.scripts import SCRIPT_NAMES, script_source
from tests.redis_driver.support import (
    Q,
    finish,
    registry,
    request,
    snapshot,
    start,
    started,
)


@dataclass
class Counted:
    """A client whose connections count what they send: one send is one round trip. ``sizes``
    holds how many arguments each command had (the command's name included)."""

    client: redis.Redis
    sent: list[int]
    sizes: list[int] = field(default_factory=list)

    def trips(self, action: Callable[[], Any]) -> tuple[int, Any]:
        self.sent[0] = 0
        result = action()
        return self.sent[0], result

    def arguments(self, action: Callable[[], Any]) -> int:
        """How many arguments the one command ``action`` sends has."""
        self.sizes.clear()
        action()
        assert len(self.sizes) == 1, f"{len(self.sizes)} commands, not one"
        return self.sizes[0]


def resp_command_sizes(data: bytes) -> list[int]:
    """How many arguments each command in ``data`` (RESP arrays of bulk strings) has."""
    sizes, position = [], 0
    while position < len(data):
        end = data.index(b"\r\n", position)
        assert data[position : position + 1] == b"*", "a command is a RESP array"
        count = int(data[position + 1 : end])
        position = end + 2
        for _ in range(count):
            end = data.index(b"\r\n", position)
            position = end + 2 + int(data[position + 1 : end]) + 2  # $<length>, the bytes, CRLF
        sizes.append(count)
    return sizes


@pytest.fixture
def counted(client: redis.Redis) -> Iterator[Counted]:
    sent = [0]
    sizes: list[int] = []
    base = client.connection_pool.connection_class

    class CountingConnection(base):  # type: ignore[misc, valid-type]
        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            # Every command is sent here, whether through the client or on the scripts' held
            # connection (which packs it itself): its RESP header, b"*<arguments>\r\n", counts.
            sent[0] += 1
            sizes.extend(resp_command_sizes(command if isinstance(command, bytes) else b"".join(command)))
            super().send_packed_command(command, check_health)

    counting = clone_client(client, connection_class=CountingConnection)
    for name in SCRIPT_NAMES:  # so every EVALSHA hits, as in a long-running process
        counting.script_load(script_source(name))
    # Connections' handshakes are not part of any operation: connect two, the one the scripts
    # hold and the one the client's other calls use.
    pool = counting.connection_pool
    warm = [pool.get_connection(), pool.get_connection()]
    for connection in warm:
        pool.release(connection)
    try:
        yield Counted(counting, sent, sizes)
    finally:
        counting.close()


# -- round trips ------------------------------------------------------------------------------------


def test_each_state_change_is_one_round_trip(counted: Counted) -> None:
    rb = RedisBroker(counted.client)
    # The store's clock is read from the server once a minute per process, not per operation
    # (jq.broker.clock): read it before counting, as a running process has.
    rb.now()
    trips = counted.trips
    assert trips(lambda: rb.enqueue(request("p")))[0] == 1
    assert trips(lambda: rb.enqueue(request("c", depends_on=["p"])))[0] == 1
    assert trips(lambda: rb.enqueue_many([request(f"m{n}", queue="many") for n in range(20)]))[0] == 1
    assert trips(lambda: rb.claim([Q], {"execution": b"e"}, 10.0))[0] == 1
    rb.enqueue(request("next"))
    assert trips(lambda: rb.claim([Q], {"execution": b"e2"}, 10.0, wait=5))[0] == 1
    assert trips(lambda: rb.claim_job("m0", "many", {"execution": b"e"}, 10.0))[0] == 1
    assert trips(lambda: rb.extend_lease(Q, "p", "e", 20.0))[0] == 1
    change = finish(
        "p",
        edit=RecordEdit({"status": b"finished"}, record_ttl=50),
        result=ResultEntry(b"r"),
        settlement=Settlement(DependentsPolicy.FINISHED),
        execution_id="e",
    )
    count, moved = trips(lambda: rb.transition(change))
    assert (count, moved) == (1, True)
    rb.register_worker("w0", {}, [Q], 30)
    rb.enqueue_many([request("n1"), request("n2")])
    with_worker = WorkerUpdate("w0", {"state": b"busy"}, {"done": 1})
    count, claimed = trips(lambda: rb.claim([Q], {"execution": b"e3"}, 10.0, worker=with_worker))
    assert count == 1 and claimed is not None
    done = finish(claimed.job_id, execution_id="e3", worker=with_worker)
    assert trips(lambda: rb.transition(done)) == (1, True)
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
    vanished = Settlement(DependentsPolicy.VANISHED, Cancellation())
    change = finish("p", target=ToRegistry(registry(PlaceKind.FAILED), math.inf), settlement=vanished)
    assert trips(lambda: rb.transition(change)) == (1, True)
    assert rb.registry_count(registry(PlaceKind.CANCELED)) == 2


def test_finish_and_claim_is_one_round_trip(counted: Counted) -> None:
    rb = RedisBroker(counted.client)
    rb.register_worker("w", {"state": b"idle"}, [Q], 30)
    start(rb, "a")
    rb.enqueue_many([request("b"), request("c")])
    worker = WorkerUpdate("w", {"state": b"busy"}, {"done": 1})
    change = finish(
        "a",
        result=ResultEntry(b"r"),
        settlement=Settlement(DependentsPolicy.FINISHED),
        execution_id="e1",
        worker=worker,
    )
    claim = ClaimRequest([Q], {"execution": b"e2"}, 10.0, worker)
    count, (moved, claimed) = counted.trips(lambda: rb.finish_and_claim(change, claim))
    assert (count, moved) == (1, True)
    assert claimed is not None and claimed.job_id == "b"
    refused = finish("a", execution_id="e1")
    count, (moved, claimed) = counted.trips(lambda: rb.finish_and_claim(refused, claim))
    assert (count, moved) == (1, False)
    assert claimed is not None and claimed.job_id == "c"
    count, (moved, claimed) = counted.trips(lambda: rb.finish_and_claim(refused, claim))
    assert (count, moved, claimed) == (1, False, None)
    count, (moved, claimed) = counted.trips(lambda: rb.finish_and_claim(refused, ClaimRequest([], {}, 1.0)))
    assert (count, moved, claimed) == (1, False, None), "no queue: the transition alone"


# -- arguments per call -----------------------------------------------------------------------------
# redis-py packs every argument in Python: what is the same on every call of a broker is baked into
# its scripts, and a call sends only what varies. Counts below include EVALSHA, the SHA and the
# number of keys, and R for the call's request identity (its key and number, see
# jq_backends.redis.requests).
R = 2


def test_a_plain_enqueue_sends_its_keys_two_options_and_its_fields(counted: Counted) -> None:
    rb = RedisBroker(counted.client)
    plain = request("a", fields=job_fields(description=b"len('abc')", enqueued_at=b"t", timeout=b"180"))
    # 7 keys (record, queue, wake, known queues, results, dependents, dependencies), flags and
    # expiry, then the fields: 24 for these six fields (73 before the constants were baked).
    assert counted.arguments(lambda: rb.enqueue(plain)) <= 3 + 7 + 2 + 2 * len(plain.fields) + R == 24 + R


def test_a_claim_sends_its_queues_keys_its_lease_and_its_fields(counted: Counted) -> None:
    rb = RedisBroker(counted.client)
    rb.enqueue_many([request("a"), request("b"), request("c")])
    fields = {"execution": b"e", "worker_name": b"w", "started_at": b"t", "last_heartbeat": b"t"}
    # 3 keys per queue, the lease, the fields: 15 (21 before, when the queue names and four key
    # templates travelled too).
    assert counted.arguments(lambda: rb.claim([Q], fields, 10.0)) <= 3 + 3 + 1 + 2 * len(fields) + R == 15 + R
    assert counted.arguments(lambda: rb.claim(["high", Q], fields, 10.0)) <= 15 + 3 + R
    worker = WorkerUpdate("w", {"state": b"busy"}, {"done": 1})
    # The worker's record, then the counts and pairs of its fields and increments.
    assert counted.arguments(lambda: rb.claim([Q], fields, 10.0, worker=worker)) <= 15 + 1 + 3 + 3 + R


def test_the_worker_loop_calls_send_few_arguments(counted: Counted) -> None:
    rb = RedisBroker(counted.client)
    rb.register_worker("w", {}, [Q], 30)
    start(rb, "a")
    rb.enqueue(request("b"))
    change = finish(
        "a",
        target=ToRegistry(registry(PlaceKind.FINISHED), 1e10),
        edit=RecordEdit({"status": b"finished", "ended_at": b"t"}, record_ttl=500),
        result=ResultEntry(b"r"),
        settlement=Settlement(DependentsPolicy.FINISHED),
        released_fields={"enqueued_at": b"t"},
        execution_id="e1",
    )
    # 7 keys (data keys, source, target, known queues); mode, score, execution, expiry, result,
    # released fields (3), fields (4): 22 (44 before).
    assert counted.arguments(lambda: rb.transition(change)) <= 3 + 7 + 5 + 3 + 4 + R == 22 + R
    start(rb, "a2")
    claim = ClaimRequest([Q], {"execution": b"e2", "started_at": b"t"}, 10.0)
    both = counted.arguments(lambda: rb.finish_and_claim(replace(change, job_id="a2"), claim))
    # The parts of both, and the count of the transition's fields (no longer last).
    assert both <= 22 + 1 + 3 + 1 + 4 + R, "one call costs the sum of its parts"
    assert counted.arguments(lambda: rb.extend_lease(Q, "b", "e2", 20.0)) <= 3 + 2 + 2 + R
    heartbeat = counted.arguments(lambda: rb.heartbeat_worker("w", {"last_heartbeat": b"t"}, 30, {"n": 1}))
    assert heartbeat <= 3 + 2 + 1 + 3 + 2 + R
    assert counted.arguments(lambda: rb.promote_scheduled(Q, 5.0, {"enqueued_at": b"t"})) <= 3 + 4 + 2 + 2 + R


# -- constants baked per prefix ---------------------------------------------------------------------


def test_each_prefix_has_its_own_scripts(client: redis.Redis) -> None:
    one, other = RedisBroker(client, prefix="one:"), RedisBroker(client, prefix="{other}:")
    assert script_source("claim", "one:") != script_source("claim", "{other}:")
    assert '"one:job:"' in script_source("claim", "one:")
    assert '"one:' not in script_source("claim", "{other}:")
    for broker in (one, other):
        broker.register_worker("w", {}, [Q], 30)
        assert broker.enqueue(request("p")) == EnqueueOutcome("queued")
        assert broker.enqueue(request("c", depends_on=["p"])) == EnqueueOutcome("deferred")
    worker = WorkerUpdate("w", {"state": b"busy"}, {"done": 1})
    for broker in (one, other):
        claimed = broker.claim([Q], {"execution": b"e"}, 10.0, worker=worker)
        assert claimed is not None and claimed.job_id == "p"
        settlement = Settlement(DependentsPolicy.FINISHED)
        change = finish("p", settlement=settlement, execution_id="e", worker=worker)
        moved, child = broker.finish_and_claim(change, ClaimRequest([Q], {"execution": b"e2"}, 10.0, worker))
        assert moved and child is not None and child.job_id == "c", "released under this prefix"
        assert broker.load_workers(["w"]) == [{"state": b"busy", "done": b"3", "current_job": b"c"}]
        assert broker.worker_names(Q) == ["w"]
        broker.unregister_worker("w")
        assert broker.empty_queue(Q) == 0
    keys = {key.decode() for key in client.keys("*")}
    assert keys and all(key.startswith(("one:", "{other}:")) for key in keys)

    def layout(prefix: str) -> set[str]:
        # A request key is named after its caller's session: one each, under its broker's prefix.
        names = {key.partition(":")[2] for key in keys if key.startswith(prefix)}
        return {"request:" if name.startswith("request:") else name for name in names}

    assert layout("one:") == layout("{other}:"), "the same layout under each prefix"


def test_a_prefix_that_needs_escaping_in_lua(client: redis.Redis) -> None:
    # Quotes and non-ASCII letters are valid in a prefix (backslashes, whitespace and control
    # characters are refused by the prefix check) and must still survive as Lua literals.
    prefix = "q\"u'oté:"
    broker = RedisBroker(client, prefix=prefix)
    assert broker.enqueue(request("a")) == EnqueueOutcome("queued")
    claimed = broker.claim([Q], {"execution": b"e"}, 10.0)
    assert claimed is not None and claimed.job_id == "a"
    assert client.exists(KeySpace(prefix).job("a")) and not client.exists(KeySpace().job("a"))
    assert broker.transition(finish("a", edit=RecordEdit(record_ttl=0), execution_id="e"))
    keys = KeySpace(prefix)
    assert {key for key in client.keys("*") if not key.startswith(keys.request("").encode())} == {
        keys.registry(PlaceKind.FINISHED, Q).encode(),
        keys.queues.encode(),
    }


# -- worker updates: what only Redis does -----------------------------------------------------------


@pytest.mark.parametrize("call", ["claim", "transition", "finish_and_claim"])
def test_a_worker_increment_on_a_non_number_writes_nothing(
    rb: RedisBroker, client: redis.Redis, call: str
) -> None:
    rb.register_worker("w", {"state": b"idle"}, [Q], 30)
    start(rb, "a")
    rb.enqueue(request("b"))
    bad = WorkerUpdate("w", {"other": b"1"}, {"state": 1})
    before = snapshot(client)
    with pytest.raises(redis.ResponseError, match="state"):
        if call == "claim":
            rb.claim([Q], {"execution": b"e"}, 10.0, worker=bad)
        elif call == "transition":
            rb.transition(finish("a", worker=bad))
        else:
            good = WorkerUpdate("w", {"n": b"1"})
            rb.finish_and_claim(finish("a", worker=good), ClaimRequest([Q], {}, 10.0, bad))
    assert snapshot(client) == before


def test_finish_and_claim_checks_the_claims_increments_against_the_transitions_fields(
    rb: RedisBroker, client: redis.Redis
) -> None:
    rb.register_worker("w", {"state": b"idle"}, [Q], 30)
    start(rb, "a")
    rb.enqueue(request("b"))
    before = snapshot(client)
    writes_text = WorkerUpdate("w", {"n": b"text"})
    adds = WorkerUpdate("w", increments={"n": 1})
    with pytest.raises(redis.ResponseError, match="n does not hold a number"):
        rb.finish_and_claim(finish("a", worker=writes_text), ClaimRequest([Q], {}, 10.0, adds))
    assert snapshot(client) == before
    numbers = WorkerUpdate("w", {"n": b"5"})
    assert rb.finish_and_claim(finish("a", worker=numbers), ClaimRequest([Q], {}, 10.0, adds))[0]
    assert rb.load_workers(["w"]) == [{"state": b"idle", "n": b"6", "current_job": b"b"}]
    assert rb.registry_ids(started()) == ["b"]
    assert rb.registry_ids(registry(PlaceKind.FINISHED)) == ["a"]


# -- the benchmark ----------------------------------------------------------------------------------


@pytest.mark.timeout(360)  # the subprocess's own limit (300 s) comes first
def test_the_driver_benchmark_runs() -> None:
    # A smoke run: the script keeps working (its numbers are for people, not for assertions).
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "driver_calls.py"), "--calls", "3", "--rounds", "1"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0] for line in done.stdout.splitlines() if line.strip()}
    assert {"enqueue", "claim", "transition", "finish_and_claim", "extend_lease", "heartbeat_worker"} <= rows
