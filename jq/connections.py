"""RQ's ``rq.connections``, and jq's public path of :mod:`jq.io.connections`:
the same objects, re-exported."""

from __future__ import annotations

from jq.io.connections import (
    DEFAULT_URL,
    KEY_PREFIX_ENV,
    REDIS_RUNTIME_CONNECTION_KWARGS,
    URL_ENV,
    Connection,
    NoRedisConnectionException,
    fresh_url_brokers,
    get_connection_kwargs,
    get_current_connection,
    key_prefix,
    parse_connection,
    pop_connection,
    push_connection,
    resolve_broker,
    resolve_connection,
    same_store,
    use_connection,
)

__all__ = [
    "DEFAULT_URL",
    "KEY_PREFIX_ENV",
    "REDIS_RUNTIME_CONNECTION_KWARGS",
    "URL_ENV",
    "Connection",
    "NoRedisConnectionException",
    "fresh_url_brokers",
    "get_connection_kwargs",
    "get_current_connection",
    "key_prefix",
    "parse_connection",
    "pop_connection",
    "push_connection",
    "resolve_broker",
    "resolve_connection",
    "same_store",
    "use_connection",
]
