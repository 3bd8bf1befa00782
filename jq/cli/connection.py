"""Building the client ``jqueue`` connects with: from a URL, a Sentinel setting, or a host and port.

Every client is of the ``--connection-class`` (``redis.Redis`` unless given); URLs of other schemes
(``sqlite://``, ``memory://``, a plugin's) are handed to the core as they are.
"""

from __future__ import annotations

import difflib
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any, Final

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError, Sentinel

from jq.cli.config import ConnectionSpec, HostSettings, SentinelSettings, redact_url
from jq.cli.errors import UserError
from jq_backends.redis.options import accepted_options

__all__ = [
    "CONNECT_TIMEOUT",
    "SENTINEL_SOCKET_TIMEOUT",
    "build_connection",
    "describe_failure",
    "host_url",
    "sentinel_master",
]

#: Seconds the CLI waits for a TCP connection to Redis unless the URL says otherwise: long enough
#: for a slow network, short enough that a wrong address fails while the operator still waits.
CONNECT_TIMEOUT: Final = 5.0
#: The socket timeout of a Sentinel master's connections when ``SOCKET_TIMEOUT`` is None (redis-py 8
#: gives its own connections 5 s too). Without one, a TLS handshake with a server that does not
#: speak TLS waits forever; the broker keeps its blocking waits shorter than the socket timeout.
SENTINEL_SOCKET_TIMEOUT: Final = 5.0

# What an AuthenticationError says when the client sent no credentials at all (RESP3's HELLO,
# RESP2's commands, and older servers), as opposed to wrong ones.
_NO_CREDENTIALS: Final = (
    "HELLO must be called with the client already authenticated",
    "Authentication required",
    "NOAUTH",
)

_REDIS_SCHEMES: Final = frozenset({"redis", "rediss", "unix"})


def build_connection(spec: ConnectionSpec | None, connection_class: type[redis.Redis]) -> Any:
    """What ``connection=`` gets: a client of ``connection_class`` for Redis URLs, Sentinel and
    host settings, or the URL itself for other schemes (``sqlite://``, ``memory://``, plugins' schemes)."""
    if spec is None:
        raise UserError(
            "no connection given: pass --url redis://host:port/db, set JQ_URL (or RQ_REDIS_URL), or give "
            "a config module (-c settings) with REDIS_URL, REDIS_HOST or SENTINEL"
        )
    if spec.sentinel is not None:
        return sentinel_master(spec.sentinel, connection_class, spec.source)
    if spec.host is not None:
        # Through a URL, so that host settings make exactly the client REDIS_URL would.
        return _client_from_url(host_url(spec.host), connection_class)
    return _client_from_url(spec.url or "", connection_class)


def host_url(host: HostSettings) -> str:
    """The ``redis://`` URL of ``REDIS_HOST``/``PORT``/``DB``/``PASSWORD`` settings; with
    ``REDIS_SSL``, the ``rediss://`` URL with the ``REDIS_SSL_*`` options as query arguments."""
    name = f"[{host.host}]" if ":" in host.host else host.host
    auth = f":{urllib.parse.quote(host.password, safe='')}@" if host.password else ""
    scheme = "rediss" if host.ssl else "redis"
    query = f"?{urllib.parse.urlencode(dict(host.tls), safe='/')}" if host.tls else ""
    return f"{scheme}://{auth}{name}:{host.port}/{host.db}{query}"


def describe_failure(spec: ConnectionSpec, error: BaseException) -> str:
    """Why connecting failed, in one readable line."""
    if isinstance(error, MasterNotFoundError):
        # redis-py's message embeds the repr of a whole client; say what it means instead.
        name = spec.sentinel.master_name if spec.sentinel is not None else _url_master_name(spec.url)
        return f"no sentinel answered with a live master named {name!r}"
    if isinstance(error, redis.AuthenticationError) and any(text in str(error) for text in _NO_CREDENTIALS):
        # The server's words ("HELLO must be called with the client already authenticated...")
        # describe the protocol, not what the operator should do.
        return f"the server needs a password: {_where_the_password_goes(spec)}"
    if isinstance(error, redis.TimeoutError) and _uses_tls(spec):
        # A TLS handshake with a plain server waits for an answer that never comes.
        return f"{error} (is the server taking TLS connections?)"
    return str(error)


def _url_master_name(url: str | None) -> str:
    """The master's name in a ``redis+sentinel://`` URL (the first part of its path)."""
    path = urllib.parse.urlsplit(url or "").path
    return urllib.parse.unquote(path.strip("/").split("/")[0])


def _uses_tls(spec: ConnectionSpec) -> bool:
    if spec.sentinel is not None:
        return spec.sentinel.ssl
    return spec.url is not None and spec.url.lower().startswith(("rediss://", "rediss+sentinel://"))


def _where_the_password_goes(spec: ConnectionSpec) -> str:
    if spec.sentinel is not None:
        return f"set SENTINEL['PASSWORD'] (and USERNAME for an ACL user) in the {spec.source}"
    if spec.host is not None and spec.source.startswith("config module"):
        return f"set REDIS_PASSWORD in the {spec.source}"
    if spec.host is not None:
        return "set REDIS_PASSWORD, or give --url redis://:PASSWORD@host:port/db"
    return "put it in the URL, as redis://:PASSWORD@host:port/db or redis://USER:PASSWORD@host:port/db"


def _client_from_url(url: str, connection_class: type[redis.Redis]) -> Any:
    scheme, separator, rest = url.partition("://")
    if not separator or not scheme:
        raise UserError(
            f"{redact_url(url)!r} is not a URL: use e.g. 'redis://localhost:6379/0', "
            "'rediss://host:6380/0', 'unix:///path/to/redis.sock?db=0', 'sqlite:///jobs.db' or "
            "'memory://'"
        )
    if scheme.lower() not in _REDIS_SCHEMES:
        # sqlite://, memory:// and any scheme a plugin adds: the core's broker lookup decides.
        return url
    url = f"{scheme.lower()}://{rest}"
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
    except ValueError as exc:  # an unclosed IPv6 bracket: redis://[::1/0
        raise UserError(f"URL {redact_url(url)!r} is not valid: {exc}") from None
    database = parts.path.strip("/")
    if scheme.lower() == "unix":
        if not database:
            raise UserError(f"URL {redact_url(url)!r} names no socket: use unix:///path/to/redis.sock?db=0")
    elif not host:
        # redis-py would take localhost:6379, and jqueue never guesses where the store is.
        raise UserError(
            f"URL {redact_url(url)!r} names no host: use e.g. 'redis://localhost:6379/0' "
            "(with the host and port of your server)"
        )
    elif database and not database.isdigit():
        raise UserError(f"URL {redact_url(url)!r} is not valid: the database {database!r} is not a number")
    query = urllib.parse.parse_qs(parts.query)
    options = {} if "socket_connect_timeout" in query else {"socket_connect_timeout": CONNECT_TIMEOUT}
    try:
        return connection_class.from_url(url, **options)
    except ValueError as exc:
        raise UserError(f"URL {redact_url(url)!r} is not valid: {exc}") from None


def sentinel_master(
    settings: SentinelSettings, connection_class: type[redis.Redis], where: str = "config module"
) -> redis.Redis:
    """A client of the master that the sentinels of ``settings`` name (found again after a failover).

    Unknown keys of ``CONNECTION_KWARGS`` and ``SENTINEL_KWARGS`` are a :class:`UserError` naming
    the key and ``where`` the setting came from, before anything connects: redis-py would raise a
    ``TypeError`` at the first connection.
    """
    _check_keywords(settings.sentinel_kwargs, accepted_options(redis.Redis), "SENTINEL_KWARGS", where)
    socket_timeout = SENTINEL_SOCKET_TIMEOUT if settings.socket_timeout is None else settings.socket_timeout
    connection_kwargs: dict[str, Any] = {
        "db": settings.db,
        "username": settings.username,
        "password": settings.password,
        "socket_timeout": socket_timeout,
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
    # redis-py's sentinel module had no annotations before 8.2: called through typed names, which
    # type-check with and without them.
    make_sentinel: Callable[..., Sentinel] = Sentinel
    sentinel = make_sentinel(list(settings.instances), sentinel_kwargs=sentinel_kwargs, **connection_kwargs)
    master_for: Callable[..., redis.Redis] = sentinel.master_for
    master = master_for(settings.master_name, redis_class=connection_class)
    # The pool has taken its own keywords (max_connections...) out; the rest go to each connection.
    pool = master.connection_pool
    given = [key for key in pool.connection_kwargs if key in settings.connection_kwargs]
    taken = accepted_options(pool.connection_class)
    # SentinelManagedConnection takes its pool's proxy as connection_pool, beside the keywords
    # of redis-py's Connection.
    _check_keywords(given, None if taken is None else taken | {"connection_pool"}, "CONNECTION_KWARGS", where)
    return master


def _check_keywords(given: Iterable[str], accepted: frozenset[str] | None, key: str, where: str) -> None:
    """A :class:`UserError` for the first of ``given`` not in ``accepted`` (None: any is taken)."""
    if accepted is None:
        return
    for name in given:
        if name in accepted:
            continue
        if name.startswith("ssl_") and key == "CONNECTION_KWARGS":
            hint = ": TLS options apply with 'SSL': True"
        else:
            close = difflib.get_close_matches(name, sorted(accepted), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UserError(f"SENTINEL[{key!r}] (from {where}) has an unknown key {name!r}{hint}")
