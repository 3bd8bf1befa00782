"""Fixtures of the Redis driver's tests: each test runs on a fakeredis server and on the session's
private redis-server."""

from __future__ import annotations

import pytest
import redis

from jq_backends.redis import RedisBroker

#: The stores each test runs on: a fake server, and the session's private redis-server.
REDIS_CLIENTS = ["fakeredis", "redis"]


@pytest.fixture(params=REDIS_CLIENTS)
def client(request: pytest.FixtureRequest) -> redis.Redis:
    """A client of an empty store: a fake server, or the session's private redis-server."""
    return request.getfixturevalue(f"{request.param}_client")  # type: ignore[no-any-return]


@pytest.fixture
def rb(client: redis.Redis) -> RedisBroker:
    """A Redis broker on ``client``."""
    return RedisBroker(client)
