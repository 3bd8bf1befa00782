"""The Redis driver's jq plugin: brokers for ``redis://``, ``rediss://``, ``unix://``,
``redis+sentinel://`` and ``redis+cluster://`` (and their ``rediss+`` TLS forms) URLs and for
redis-py clients (fakeredis and Redis Cluster clients included). Registered under the ``jq``
entry-point group."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import redis

from jq.plugins import hookimpl
from jq_backends.redis.broker import RedisBroker
from jq_backends.redis.cluster import CLUSTER_SCHEMES
from jq_backends.redis.sentinel import SENTINEL_SCHEMES

#: URL schemes this driver answers.
SCHEMES: Final = frozenset({"redis", "rediss", "unix"}) | SENTINEL_SCHEMES | CLUSTER_SCHEMES


@hookimpl
def jq_broker_from_url(url: str, options: Mapping[str, Any]) -> RedisBroker | None:
    """A new :class:`RedisBroker` for a Redis URL, or None for another scheme."""
    scheme, separator, _rest = url.partition("://")
    if not separator or scheme.lower() not in SCHEMES:
        return None
    return RedisBroker.from_url(url, **dict(options))


@hookimpl
def jq_broker_from_connection(connection: object) -> RedisBroker | None:
    """The shared :class:`RedisBroker` of a redis-py (or fakeredis, or Redis Cluster) client, or None."""
    if isinstance(connection, (redis.Redis, redis.RedisCluster)):
        return RedisBroker.for_client(connection)
    return None
