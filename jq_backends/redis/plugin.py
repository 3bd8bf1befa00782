"""The Redis driver's jq plugin: brokers for ``redis://``, ``rediss://``, ``unix://`` and
``redis+sentinel://`` (``rediss+sentinel://``) URLs and for redis-py clients (fakeredis clients
included). Registered under the ``jq`` entry-point group."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import redis

from jq.plugins import hookimpl
from jq_backends.redis.broker import RedisBroker
from jq_backends.redis.sentinel import SENTINEL_SCHEMES

#: URL schemes this driver answers.
SCHEMES: Final = frozenset({"redis", "rediss", "unix"}) | SENTINEL_SCHEMES


@hookimpl
def jq_broker_from_url(url: str, options: Mapping[str, Any]) -> RedisBroker | None:
    """A new :class:`RedisBroker` for a Redis URL, or None for another scheme."""
    scheme, separator, _rest = url.partition("://")
    if not separator or scheme.lower() not in SCHEMES:
        return None
    return RedisBroker.from_url(url, **dict(options))


@hookimpl
def jq_broker_from_connection(connection: object) -> RedisBroker | None:
    """The shared :class:`RedisBroker` of a redis-py (or fakeredis) client, or None."""
    if isinstance(connection, redis.Redis):
        return RedisBroker.for_client(connection)
    return None
