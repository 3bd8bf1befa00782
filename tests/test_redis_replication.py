"""The Redis driver with replicas: ``redis+sentinel://`` URLs, a master that became a replica, and
``wait_replicas`` (each state change waits for replicas). The failover runs themselves are in
``tests/test_sentinel_failover.py``; these are the quick checks of each piece."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from redis.sentinel import SentinelConnectionPool

from jq import Queue
from jq.exceptions import ConfigurationError
from jq.testing.helpers import wait_for
from jq_backends.redis import RedisBroker
from jq_backends.redis.connection import client_url
from jq_backends.redis.failover import (
    Durability,
    MasterChangedError,
    ReplicaWaitError,
    master_gone,
    take_durability,
)
from jq_backends.redis.sentinel import parse_sentinel_url, sentinel_client
from tests import fixtures
from tests.redis_server import RedisServer

# -- redis+sentinel:// URLs ---------------------------------------------------------------------------


def test_a_sentinel_url_names_sentinels_master_database_and_options():
    parsed = parse_sentinel_url(
        "redis+sentinel://user:p%40ss@10.0.0.1:26380,10.0.0.2,[::1]:5000/cache/3"
        "?socket_timeout=2.5&sentinel_password=sp&sentinel_socket_timeout=1"
    )
    assert parsed.sentinels == [("10.0.0.1", 26380), ("10.0.0.2", 26379), ("::1", 5000)]
    assert parsed.master_name == "cache"
    assert parsed.master_options == {"username": "user", "password": "p@ss", "db": 3, "socket_timeout": 2.5}
    assert parsed.sentinel_options == {"password": "sp", "socket_timeout": 1.0}


def test_a_sentinel_url_without_a_database_is_database_0_and_tls_asks_for_ssl():
    client = sentinel_client("rediss+sentinel://127.0.0.1:1/primary?ssl_cert_reqs=none")
    try:
        pool = client.connection_pool
        assert isinstance(pool, SentinelConnectionPool)
        assert pool.connection_kwargs["db"] == 0
        assert pool.connection_class.__name__ == "SentinelManagedSSLConnection"
        # The URL a client of the pool is shown with reads back as the same thing.
        assert client_url(client) == "rediss+sentinel://127.0.0.1:1/primary/0"
    finally:
        client.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+sentinel:///mymaster", "names no sentinel"),
        ("redis+sentinel://127.0.0.1:26379", "must name the master"),
        ("redis+sentinel://127.0.0.1:26379/m/0/extra", "must name the master"),
        ("redis+sentinel://127.0.0.1:26379/m/zero", "database 'zero' is not a number"),
        ("redis+sentinel://127.0.0.1:nope/m", "is not valid"),
        ("redis+sentinel://127.0.0.1/m?socket_timeut=2", "did you mean 'socket_timeout'"),
        ("redis+sentinel://127.0.0.1/m?sentinel_socket_timeut=2", "sentinel_ option"),
        ("redis+sentinel://127.0.0.1/m?socket_timeout=soon", "Invalid value for 'socket_timeout'"),
    ],
)
def test_a_wrong_sentinel_url_says_what_is_wrong(url, message):
    with pytest.raises(ConfigurationError, match=message):
        RedisBroker.from_url(url)


def test_queue_takes_a_sentinel_url_through_the_plugin():
    queue = Queue(connection="redis+sentinel://127.0.0.1:1,127.0.0.1:2/mymaster/4")
    assert queue.broker.url == "redis+sentinel://127.0.0.1:1,127.0.0.1:2/mymaster/4"
    assert isinstance(queue.broker.connection.connection_pool, SentinelConnectionPool)


# -- wait_replicas ------------------------------------------------------------------------------------


def test_wait_options_come_out_of_the_url_and_keywords_win():
    url, durability = take_durability("redis://h/0?socket_timeout=2&wait_replicas=1&wait_timeout=0.2", {})
    assert url == "redis://h/0?socket_timeout=2"
    assert durability == Durability(1, 0.2)
    options = {"wait_replicas": 2}
    url, durability = take_durability("redis://h/0?wait_replicas=1", options)
    assert (url, durability, options) == ("redis://h/0", Durability(2, 1.0), {})
    assert take_durability("redis://h/0", {}) == ("redis://h/0", None)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("wait_timeout=1", "wait_timeout applies with wait_replicas"),
        ("wait_replicas=one", "wait_replicas='one' is not a whole number"),
        ("wait_replicas=0", "wait_replicas must be 1 or more"),
        ("wait_replicas=1&wait_timeout=0", "wait_timeout must be a number of seconds above 0"),
    ],
)
def test_wrong_wait_options_say_what_is_wrong(query, message):
    with pytest.raises(ConfigurationError, match=message):
        RedisBroker.from_url(f"redis://127.0.0.1:1/0?{query}")


@pytest.fixture
def master() -> Iterator[RedisServer]:
    """A private master with no replica yet."""
    server = RedisServer(extra_args=("--repl-diskless-sync-delay", "0")).start()
    try:
        yield server
    finally:
        server.cleanup()


def _replica_of(master: RedisServer) -> RedisServer:
    replica = RedisServer(extra_args=("--replicaof", "127.0.0.1", str(master.port))).start()
    with master.client() as client:
        assert client.wait(1, 10_000) == 1, "the replica never acknowledged its master"
    return replica


def _confirmed(queue: Queue, job_id: str) -> bool:
    """Enqueue a job with this id; whether a replica confirmed it."""
    try:
        queue.enqueue(fixtures.add, 1, 2, job_id=job_id)
    except ReplicaWaitError:
        return False
    return True


@pytest.mark.redis_only
def test_a_change_no_replica_confirmed_is_sent_again_and_applies_once(master):
    broker = RedisBroker.from_url(f"{master.url}?wait_replicas=1&wait_timeout=0.05")
    queue = Queue(connection=broker)
    try:
        # Made on the master, confirmed by no replica: the caller hears of it as a transient error.
        with pytest.raises(ReplicaWaitError) as raised:
            queue.enqueue(fixtures.add, 1, 2, job_id="durable")
        assert isinstance(raised.value, broker.transient_errors)
        assert queue.get_job_ids() == ["durable"]
        replica = _replica_of(master)
        try:
            # The caller's repeats are the same request: each gets the recorded reply (nothing
            # runs twice) and waits again, until the replica confirms it (the first time, unless
            # this busy machine keeps the replica longer than 50 ms); then a new job goes on.
            assert wait_for(lambda: _confirmed(queue, "durable"), timeout=30)
            assert queue.get_job_ids() == ["durable"]
            assert wait_for(lambda: _confirmed(queue, "next"), timeout=30)
            assert queue.get_job_ids() == ["durable", "next"]
            with replica.client() as client:
                assert client.lrange("jq:queue:default", 0, -1) == [b"durable", b"next"]
        finally:
            replica.cleanup()
    finally:
        broker.close()


@pytest.mark.redis_only
def test_a_master_demoted_to_replica_is_a_transient_error_that_forgets_its_connections(master):
    # A client that reaches the master by name (a managed service's endpoint): after a failover
    # the same address answers as a replica. Here: a server turned into a replica under the client.
    other = RedisServer().start()
    broker = RedisBroker(master.client())
    try:
        queue = Queue(connection=broker)
        queue.enqueue(fixtures.add, 1, 2)
        with master.client() as admin:
            admin.replicaof("127.0.0.1", str(other.port))
        with pytest.raises(MasterChangedError, match="the master moved") as raised:
            queue.enqueue(fixtures.add, 2, 3)
        assert isinstance(raised.value, broker.transient_errors)
        assert master_gone(raised.value.__cause__)
        # Every idle connection of the pool was dropped, so the next ones connect afresh.
        pool = broker.connection.connection_pool
        assert all(connection._sock is None for connection in pool._available_connections)
    finally:
        broker.close()
        other.cleanup()


def test_master_gone_reads_the_refusals_of_a_server_that_is_not_the_master():
    assert master_gone(redis.ReadOnlyError("You can't write against a read only replica."))
    assert master_gone(redis.ResponseError("UNBLOCKED force unblock from blocking operation"))
    assert master_gone(redis.ResponseError("NOREPLICAS Not enough good replicas to write."))
    assert not master_gone(redis.ResponseError("WRONGTYPE Operation against a key"))
    assert not master_gone(redis.ConnectionError("gone"))
