"""Shared fixtures: a private redis-server for the session, and brokers of every driver.

``broker`` is parametrized over the memory driver, the Redis driver on a fakeredis client, and the
Redis driver on the session's real redis-server; a test that takes it runs three times.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import fakeredis
import pytest
import redis

from jq import Queue
from jq.broker import Broker
from tests import fixtures
from tests.redis_cluster import RedisCluster
from tests.redis_server import RedisServer

DRIVERS = ("memory", "fakeredis", "redis")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A redis-server private to this test session, on a free loopback port."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """A Redis Cluster private to this test session (3 masters, 3 replicas) on loopback ports,
    started by the first test that asks for it. Skipped with a redis-py too old for jq on a
    cluster (the run on the oldest releases pyproject.toml admits)."""
    from jq.exceptions import ConfigurationError
    from jq_backends.redis.cluster import check_cluster_client

    try:
        check_cluster_client()
    except ConfigurationError as error:
        pytest.skip(str(error))
    cluster = RedisCluster().start()
    try:
        yield cluster
    finally:
        cluster.cleanup()


@pytest.fixture
def cluster_broker(redis_cluster: RedisCluster) -> Iterator[Broker]:
    """A Redis driver broker on the session's cluster, under the cluster's default prefix
    (``{jq}:``, what a client given to ``connection=`` gets too), emptied before the test (the
    cluster is ours alone)."""
    from jq_backends.redis import RedisBroker

    client = redis_cluster.shared_client()
    client.flushall(target_nodes=client.PRIMARIES)
    broker = RedisBroker(client)
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A client of the private server, emptied before the test (the server is ours alone)."""
    client = redis_server.client()
    client.flushall()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def fakeredis_client() -> redis.Redis:
    """A fakeredis client on a fresh fake server."""
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


def make_broker(driver: str, request: pytest.FixtureRequest) -> Broker:
    """A fresh, empty broker of the given driver (``sqlite``: a new file in the test's tmp_path)."""
    if driver == "sqlite":
        from jq_backends.sqlite import SQLiteBroker

        return SQLiteBroker(request.getfixturevalue("tmp_path") / "jobs.db")
    if driver == "memory":
        from jq_backends.memory import MemoryBroker

        return MemoryBroker()
    from jq_backends.redis import RedisBroker

    if driver == "fakeredis":
        return RedisBroker(request.getfixturevalue("fakeredis_client"))
    return RedisBroker(request.getfixturevalue("redis_client"))


@pytest.fixture(params=DRIVERS)
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    """An empty broker, once per driver."""
    instance = make_broker(request.param, request)
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture(params=(*DRIVERS, "sqlite"))
def any_broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    """An empty broker of each driver, SQLite too (for tests of the core rules it shares)."""
    instance = make_broker(request.param, request)
    try:
        yield instance
    finally:
        instance.close()


# Variables that change what jq writes or accepts: set in a developer's shell, they must not leak
# into tests, which set them themselves where they test them.
AMBIENT_VARIABLES = ("JQ_URL", "JQ_KEY_PREFIX", "JQ_SIGNING_KEYS", "JQ_MAX_PAYLOAD_SIZE", "JQ_OTEL")


@pytest.fixture(autouse=True)
def _no_ambient_jq_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests decide their own connections and settings: the developer's shell must not leak in."""
    for variable in AMBIENT_VARIABLES:
        if variable in os.environ:
            monkeypatch.delenv(variable)
    # RQ's variables, which jqueue reads too (RQ_REDIS_URL, RQ_CONFIG..., REDIS_HOST...).
    for variable in list(os.environ):
        if variable.startswith(("RQ_", "REDIS_")):
            monkeypatch.delenv(variable)


@pytest.fixture(autouse=True)
def _jq_log_levels() -> Iterator[None]:
    """Put back the levels of jq's loggers after each test: ``work(logging_level="CRITICAL")``
    sets ``jq.worker``'s for good, and a later test's ``caplog`` would then see none of its
    warnings (which test ran before it decided whether it passed)."""
    before = {name: logging.getLogger(name).level for name in _jq_logger_names()}
    yield
    for name in _jq_logger_names():
        logging.getLogger(name).setLevel(before.get(name, logging.NOTSET))


def _jq_logger_names() -> list[str]:
    return [
        name for name in ("jq", *logging.root.manager.loggerDict) if name == "jq" or name.startswith("jq.")
    ]


@pytest.fixture
def queue(broker: Broker) -> Queue:
    """The default queue of the driver under test (a module may define its own ``queue``)."""
    return Queue(connection=broker)


@pytest.fixture
def fresh_gates() -> Iterator[None]:
    """The gates and records of tests/fixtures.py's jobs emptied before and after the test (for
    modules whose jobs meet at those gates: ``pytestmark = pytest.mark.usefixtures("fresh_gates")``)."""
    fixtures.SEEN.clear()
    fixtures.reset_gates()
    yield
    fixtures.reset_gates()
    fixtures.SEEN.clear()
