"""Building the client ``jqueue`` connects with: from a URL, a Sentinel setting, or a host and port.

Every client is of the ``--connection-class`` (``redis.Redis`` unless given); URLs of other schemes
(``memory://``, a plugin's) are handed to the core as they are.
"""

from __future__ import annotations

import urllib.parse
from typing import Any, Final

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError

from jq.cli.config import ConnectionSpec, HostSettings, SentinelSettings, redact_url
from jq.cli.errors import UserError

__all__ = ["CONNECT_TIMEOUT", "build_connection", "describe_failure", "host_url", "sentinel_master"]

#: Seconds the CLI waits for a TCP connection to Redis unless the URL says otherwise: long enough
#: for a slow network, short enough that a wrong address fails while the operator still waits.
CONNECT_TIMEOUT: Final = 5.0

_REDIS_SCHEMES: Final = frozenset({"redis", "rediss", "unix"})


def build_connection(spec: ConnectionSpec | None, connection_class: type[redis.Redis]) -> Any:
    """What ``connection=`` gets: a client of ``connection_class`` for Redis URLs, Sentinel and
    host settings, or the URL itself for other schemes (``memory://``, plugins' schemes)."""
    if spec is None:
        raise UserError(
            "no connection given: pass --url redis://host:port/db, set JQ_URL, or give a config module "
            "(-c settings) with REDIS_URL, REDIS_HOST or SENTINEL"
        )
    if spec.sentinel is not None:
        return sentinel_master(spec.sentinel, connection_class)
    if spec.host is not None:
        # Through a URL, so that host settings make exactly the client REDIS_URL would.
        return _client_from_url(host_url(spec.host), connection_class)
    return _client_from_url(spec.url or "", connection_class)


def host_url(host: HostSettings) -> str:
    """The ``redis://`` URL of ``REDIS_HOST``/``PORT``/``DB``/``PASSWORD`` settings."""
    name = f"[{host.host}]" if ":" in host.host else host.host
    auth = f":{urllib.parse.quote(host.password, safe='')}@" if host.password else ""
    return f"redis://{auth}{name}:{host.port}/{host.db}"


def describe_failure(spec: ConnectionSpec, error: BaseException) -> str:
    """Why connecting failed, in one readable line."""
    if isinstance(error, MasterNotFoundError) and spec.sentinel is not None:
        # redis-py's message embeds the repr of a whole client; say what it means instead.
        return f"no sentinel answered with a live master named {spec.sentinel.master_name!r}"
    return str(error)


def _client_from_url(url: str, connection_class: type[redis.Redis]) -> Any:
    scheme, separator, rest = url.partition("://")
    if not separator or not scheme:
        raise UserError(
            f"{redact_url(url)!r} is not a URL: use e.g. 'redis://localhost:6379/0', "
            "'rediss://host:6380/0', 'unix:///path/to/redis.sock?db=0' or 'memory://'"
        )
    if scheme.lower() not in _REDIS_SCHEMES:
        # memory:// and any scheme a plugin adds: the core's broker lookup decides.
        return url
    url = f"{scheme.lower()}://{rest}"
    parts = urllib.parse.urlsplit(url)
    database = parts.path.strip("/")
    if scheme.lower() != "unix" and database and not database.isdigit():
        raise UserError(f"URL {redact_url(url)!r} is not valid: the database {database!r} is not a number")
    query = urllib.parse.parse_qs(parts.query)
    options = {} if "socket_connect_timeout" in query else {"socket_connect_timeout": CONNECT_TIMEOUT}
    try:
        return connection_class.from_url(url, **options)
    except ValueError as exc:
        raise UserError(f"URL {redact_url(url)!r} is not valid: {exc}") from None


def sentinel_master(settings: SentinelSettings, connection_class: type[redis.Redis]) -> redis.Redis:
    """A client of the master that the sentinels of ``settings`` name (found again after a failover)."""
    from redis.sentinel import Sentinel

    connection_kwargs: dict[str, Any] = {
        "db": settings.db,
        "username": settings.username,
        "password": settings.password,
        "socket_timeout": settings.socket_timeout,
        "ssl": settings.ssl,
        "socket_connect_timeout": CONNECT_TIMEOUT,
        **settings.connection_kwargs,
    }
    sentinel_kwargs: dict[str, Any] = {
        "socket_connect_timeout": CONNECT_TIMEOUT,
        # Each sentinel is asked once: redis-py would retry a dead one with back-off before asking
        # the next, and a worker already waits out an unreachable store by itself.
        "retry": Retry(NoBackoff(), 0),
        **settings.sentinel_kwargs,
    }
    # redis-py's sentinel module has no annotations.
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        list(settings.instances), sentinel_kwargs=sentinel_kwargs, **connection_kwargs
    )
    master: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
        settings.master_name, redis_class=connection_class
    )
    return master
