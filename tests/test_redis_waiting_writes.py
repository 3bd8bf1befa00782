"""Every write of the Redis driver waits for replicas under ``wait_replicas``, not only the state
changes: a job's save, locks, suspension, registry entries and groups, on a real master with a
replica on loopback. Without ``wait_replicas`` they are the plain commands they always were, and
no ``WAIT`` is sent. (The state changes themselves: ``tests/test_redis_replication.py``.)"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import fakeredis
import pytest
import redis

from jq import Queue
from jq.broker import Place, PlaceKind
from jq.exceptions import UnsupportedByBrokerError
from jq.suspension import resume, suspend
from jq.testing.broker_suite import BrokerContractTests
from jq_backends.redis import RedisBroker
from jq_backends.redis.failover import ReplicaWaitError
from jq_backends.redis.scripts import WAITING_ONLY_SCRIPTS
from tests import fixtures
from tests.redis_server import RedisServer

pytestmark = pytest.mark.redis_only

STARTED = Place(PlaceKind.STARTED, "default")


def _replica_of(master: RedisServer, replicas: int = 1) -> RedisServer:
    """A new replica of ``master``, once ``replicas`` replicas (this one among them) are in sync."""
    replica = RedisServer(extra_args=("--replicaof", "127.0.0.1", str(master.port))).start()
    with master.client() as client:
        assert client.wait(replicas, 10_000) == replicas, "the replica never acknowledged its master"
    return replica


@pytest.fixture(scope="module")
def master() -> Iterator[RedisServer]:
    """A private master (its replica: :func:`replica`)."""
    server = RedisServer(extra_args=("--repl-diskless-sync-delay", "0")).start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def replica(master: RedisServer) -> Iterator[RedisServer]:
    """The one replica of :func:`master`, in sync."""
    server = _replica_of(master)
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def admin(master: RedisServer, replica: RedisServer) -> Iterator[redis.Redis]:
    """A client of the master, emptied (and the replica with it) before the test."""
    client = master.client()
    client.flushall()
    assert client.wait(1, 10_000) == 1
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def on_replica(replica: RedisServer) -> Iterator[redis.Redis]:
    """A client of the replica."""
    client = replica.client()
    try:
        yield client
    finally:
        client.close()


def _broker(master: RedisServer, query: str = "") -> RedisBroker:
    return RedisBroker.from_url(f"{master.url}{query}")


def _calls(admin: redis.Redis, command: str) -> int:
    """How many times the master ran ``command`` since its stats were reset."""
    stats = admin.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


@dataclass(frozen=True)
class Write:
    """One write of the driver that is no state-change script: how to set it up, make it, and
    what the replica (or the master) shows once it is made."""

    name: str
    make: Callable[[RedisBroker], object]
    shows: Callable[[redis.Redis, RedisBroker], bool]
    setup: Callable[[RedisBroker], object] = lambda broker: None


def _enqueued(broker: RedisBroker) -> None:
    Queue(connection=broker).enqueue(fixtures.add, 1, 2, job_id="j1", description="before")


def _saved(broker: RedisBroker) -> None:
    job = Queue(connection=broker).fetch_job("j1")
    assert job is not None
    job.description = "after"
    job.save()


def _meta_saved(broker: RedisBroker) -> None:
    job = Queue(connection=broker).fetch_job("j1")
    assert job is not None
    job.meta["progress"] = 50
    job.save_meta()


def _field(client: redis.Redis, broker: RedisBroker, name: str) -> bytes | None:
    return client.hget(broker.job_key("j1"), name)  # type: ignore[return-value]


WRITES = [
    Write(
        "job.save()",
        _saved,
        lambda client, broker: _field(client, broker, "description") == b"after",
        _enqueued,
    ),
    Write(
        "job.save_meta()",
        _meta_saved,
        lambda client, broker: b"progress" in (_field(client, broker, "meta") or b""),
        _enqueued,
    ),
    Write(
        "acquire_lock",
        lambda broker: broker.acquire_lock("scheduler", "t1", 60),
        lambda client, broker: client.get(broker.keys.lock("scheduler")) == b"t1",
    ),
    Write(
        "suspend",
        suspend,
        lambda client, broker: client.get(broker.keys.suspended) == b"1",
    ),
    Write(
        "suspend for a while",
        lambda broker: suspend(broker, 60),
        lambda client, broker: client.pttl(broker.keys.suspended) > 0,
    ),
    Write(
        "resume",
        resume,
        lambda client, broker: client.exists(broker.keys.suspended) == 0,
        lambda broker: broker.suspend(),
    ),
    Write(
        "registry_add",
        lambda broker: broker.registry_add(STARTED, "j1", 5),
        lambda client, broker: client.zscore(broker.keys.place(STARTED), "j1") == 5,
    ),
    Write(
        "registry_update_score",
        lambda broker: broker.registry_update_score(STARTED, "j1", 7),
        lambda client, broker: client.zscore(broker.keys.place(STARTED), "j1") == 7,
        lambda broker: broker.registry_add(STARTED, "j1", 5),
    ),
    Write(
        "registry_remove",
        lambda broker: broker.registry_remove(STARTED, "j1"),
        lambda client, broker: client.zscore(broker.keys.place(STARTED), "j1") is None,
        lambda broker: broker.registry_add(STARTED, "j1", 5),
    ),
    Write(
        "group_add",
        lambda broker: broker.group_add("g", ["j1", "j2"]),
        lambda client, broker: (
            client.smembers(broker.group_key("g")) == {b"j1", b"j2"}
            and client.sismember(broker.keys.groups, "g")
        ),
    ),
    Write(
        "group_delete",
        lambda broker: broker.group_delete("g"),
        lambda client, broker: (
            not client.exists(broker.group_key("g")) and not client.sismember(broker.keys.groups, "g")
        ),
        lambda broker: broker.group_add("g", ["j1"]),
    ),
]

#: The writes that are plain commands or a MULTI without wait_replicas (save_meta is a script).
PLAIN_WRITES = [write for write in WRITES if write.name != "job.save_meta()"]


@pytest.mark.parametrize("write", WRITES, ids=lambda write: write.name)
def test_each_write_is_on_the_replica_when_it_returns(master, admin, on_replica, write):
    broker = _broker(master, "?wait_replicas=1&wait_timeout=10")
    try:
        write.setup(broker)
        admin.config_resetstat()
        write.make(broker)
        # WAIT after the write, on its connection (a second one when the server did not know
        # the script yet: WAIT follows the refused EVALSHA too): the replica had the write before
        # the call returned, whatever the replication lag.
        assert _calls(admin, "wait") >= 1
        assert write.shows(on_replica, broker)
    finally:
        broker.close()


@pytest.mark.parametrize("write", WRITES, ids=lambda write: write.name)
def test_a_write_no_replica_confirmed_raises_and_says_what_to_do(master, admin, write):
    # Two replicas asked for, one there: made on the master, confirmed by one.
    broker = _broker(master, "?wait_replicas=2&wait_timeout=0.02")
    try:
        plain = _broker(master)  # set up without waiting
        try:
            write.setup(plain)
        finally:
            plain.close()
        with pytest.raises(ReplicaWaitError) as raised:
            write.make(broker)
        message = str(raised.value)
        assert re.search(r"confirmed by [01] of the 2 replica\(s\)", message)
        assert "Call again" in message and "lower wait_replicas" in message
        assert isinstance(raised.value, broker.transient_errors)
        assert write.shows(admin, broker), "the write was made on the master, in doubt"
    finally:
        broker.close()


def test_a_write_sent_again_after_an_unconfirmed_wait_gets_its_first_reply(master, admin):
    broker = _broker(master, "?wait_replicas=2&wait_timeout=0.02")
    try:
        with pytest.raises(ReplicaWaitError):
            broker.acquire_lock("scheduler", "t1", 60)
        second = _replica_of(master, 2)
        try:
            # The caller's repeats are the same request (each waits again, until both replicas
            # confirm it in time on this busy machine): the lock taken the first time reads as
            # taken, where SET NX alone would find its own token there and answer "not taken".
            assert _repeated(lambda: broker.acquire_lock("scheduler", "t1", 60)) is True
            assert broker.lock_owner("scheduler") == "t1"
            assert _repeated(lambda: broker.acquire_lock("scheduler", "t2", 60)) is False, "a new call"
            _repeated(lambda: broker.group_add("g", ["j1"]))
            assert _repeated(lambda: broker.group_delete("g")) is True
            assert _repeated(lambda: broker.group_delete("g")) is False
        finally:
            second.cleanup()
    finally:
        broker.close()


def test_a_different_write_after_an_unconfirmed_one_is_made_not_taken_for_its_repeat(master, admin):
    # A write in doubt is sent again first at its thread's next call, and that call gets its
    # reply only when it is the very same write: a resume after an unconfirmed suspend (one
    # script, one key) resumes, an id added after another to the same registry is added.
    # So is a job's meta saved after an unconfirmed save of it (a job reporting its progress).
    suspending, adding, reporting = (_broker(master, "?wait_replicas=2&wait_timeout=0.02") for _ in range(3))
    try:
        with pytest.raises(ReplicaWaitError):
            suspending.suspend()
        with pytest.raises(ReplicaWaitError):
            adding.registry_add(STARTED, "j1", 1)
        _enqueued(admin)
        job = Queue(connection=reporting).fetch_job("j1")
        assert job is not None
        job.meta["progress"] = 10
        with pytest.raises(ReplicaWaitError):
            job.save_meta()
        second = _replica_of(master, 2)
        try:
            _repeated(suspending.resume)
            assert not suspending.is_suspended()
            _repeated(lambda: adding.registry_add(STARTED, "j2", 2))
            assert adding.registry_ids(STARTED) == ["j1", "j2"]
            _repeated(lambda: adding.registry_add(STARTED, "j1", 3))
            assert adding.registry_score(STARTED, "j1") == 3, "the same id with a new score is new too"
            job.meta["progress"] = 20
            _repeated(job.save_meta)
            assert job.get_meta() == {"progress": 20}
        finally:
            second.cleanup()
    finally:
        for broker in (suspending, adding, reporting):
            broker.close()


def _repeated(call: Callable[[], object]) -> object:
    """``call()``'s reply, called again while a replica does not confirm it in time."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return call()
        except ReplicaWaitError:
            if time.monotonic() > deadline:
                raise


@pytest.mark.parametrize("write", PLAIN_WRITES, ids=lambda write: write.name)
def test_without_wait_replicas_the_writes_are_plain_commands_and_nothing_waits(master, admin, write):
    broker = _broker(master)
    try:
        assert not WAITING_ONLY_SCRIPTS & broker._scripts._scripts.keys(), "not even registered"
        write.setup(broker)
        admin.config_resetstat()
        write.make(broker)
        assert _calls(admin, "wait") == 0
        # The plain command or MULTI, as ever: no script (jq's scripts are EVALSHA, or EVAL
        # when the server does not know one yet).
        assert _calls(admin, "evalsha") + _calls(admin, "eval") == 0
        assert write.shows(admin, broker)
    finally:
        broker.close()


def test_a_callers_pipeline_is_refused_under_wait_replicas_and_says_why(master, admin):
    broker = _broker(master, "?wait_replicas=1")
    try:
        queue = Queue(connection=broker)
        with broker.connection.pipeline() as pipe, pytest.raises(UnsupportedByBrokerError) as raised:
            queue.enqueue(fixtures.add, 1, 2, pipeline=pipe)
        assert "wait_replicas=1" in str(raised.value) and "Leave pipeline= out" in str(raised.value)
        assert queue.count == 0
    finally:
        broker.close()


@pytest.mark.slow
class TestContractWaitingForReplicas(BrokerContractTests):
    """The whole broker contract holds with wait_replicas=1: the scripts that stand for plain
    commands there do what those commands do. (Slow as a whole: some 25 s for the suite.)"""

    @pytest.fixture
    def broker(self, master, admin) -> Iterator[RedisBroker]:
        instance = _broker(master, "?wait_replicas=1&wait_timeout=10")
        try:
            yield instance
        finally:
            instance.close()


def test_a_repeat_writes_so_that_its_wait_covers_the_call_it_repeats(master, admin):
    """A repeat answered from the recorded reply still writes (its request key's expiry), so the
    WAIT that follows it on another connection waits for the original write too: a connection's
    WAIT waits for the replication offset of its own last write."""
    broker = _broker(master, "?wait_replicas=2&wait_timeout=0.02")
    try:
        with pytest.raises(ReplicaWaitError):
            broker.acquire_lock("scheduler", "t1", 60)
        (request_key,) = list(admin.scan_iter("*request*"))
        admin.pexpire(request_key, 5_000)
        admin.config_resetstat()
        with pytest.raises(ReplicaWaitError):
            broker.acquire_lock("scheduler", "t1", 60)  # the repeat: answered from the record
        assert _calls(admin, "pexpire") == 1
        assert admin.pttl(request_key) > 60_000, "the repeat renewed its request key"
        assert broker.lock_owner("scheduler") == "t1"
    finally:
        broker.close()


def _queue_length(admin: redis.Redis) -> int:
    return Queue(connection=RedisBroker(admin)).count


def test_a_server_that_refuses_wait_is_refused_before_anything_is_written(master, admin):
    """A user whose ACL forbids WAIT: under wait_replicas no write can be confirmed. The broker
    says so before its first write, rather than making the write and then raising the server's
    refusal of WAIT (which reads as if the enqueue had failed, and a caller sending it again
    enqueues the job twice)."""
    admin.acl_setuser(
        "nowait", enabled=True, nopass=True, keys=["*"], channels=["*"], commands=["+@all", "-wait"]
    )
    client = master.client(username="nowait")
    broker = RedisBroker(client, wait_replicas=1, wait_timeout=0.5)
    try:
        queue = Queue(connection=broker)
        with pytest.raises(UnsupportedByBrokerError) as raised:
            queue.enqueue(fixtures.add, 1, 2)
        assert "WAIT" in str(raised.value) and "wait_replicas" in str(raised.value)
        assert _queue_length(admin) == 0
        with pytest.raises(UnsupportedByBrokerError):  # and so for each write after it
            queue.enqueue(fixtures.add, 1, 2)
        assert _queue_length(admin) == 0
    finally:
        broker.close()
        client.close()
        admin.acl_deluser("nowait")


def test_fakeredis_under_wait_replicas_is_refused_before_anything_is_written():
    """fakeredis has no WAIT (nor replicas to wait for)."""
    client = fakeredis.FakeRedis()
    broker = RedisBroker(client, wait_replicas=1)
    with pytest.raises(UnsupportedByBrokerError) as raised:
        Queue(connection=broker).enqueue(fixtures.add, 1, 2)
    assert "WAIT" in str(raised.value)
    assert Queue(connection=RedisBroker(client)).count == 0
