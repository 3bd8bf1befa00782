"""``redis+sentinel://`` URLs: a client of the master a set of Redis Sentinels names.

``redis+sentinel://[[user]:password@]host:port[,host:port...]/master_name[/db][?option=value...]``
(``rediss+sentinel://`` for TLS to the master) lists the sentinels to ask, the name they know the
master by and the database. The user part and the query's options are the master's connection's,
as in a ``redis://`` URL (``socket_timeout=``, ``ssl_ca_certs=``...); options whose names start
with ``sentinel_`` are the sentinels' own, without that start (``sentinel_password=`` is the
password of the sentinels, ``sentinel_socket_timeout=`` how long one may take to answer).

The client is redis-py's ``Sentinel.master_for``: each new connection asks the sentinels where
the master is, and a connection to a master that was demoted to a replica turns its ``READONLY``
refusal into a connection error, so that the driver's usual handling of a lost connection (retry
with the same request identity, see :mod:`.requests`) reaches the new master. It is also the form
:func:`jq_backends.redis.connection.client_url` names such a client with.
"""

from __future__ import annotations

import difflib
import urllib.parse
from collections.abc import Callable
from typing import Any, Final

import redis
from redis.backoff import NoBackoff
from redis.connection import SSLConnection, parse_url
from redis.retry import Retry
from redis.sentinel import Sentinel

from jq.exceptions import ConfigurationError
from jq_backends.redis.connection import parse_hosts
from jq_backends.redis.options import accepted_options

__all__ = ["SENTINEL_SCHEMES", "SentinelURL", "parse_sentinel_url", "sentinel_client"]

#: URL schemes of a Sentinel-managed master: plain and TLS.
SENTINEL_SCHEMES: Final = frozenset({"redis+sentinel", "rediss+sentinel"})
#: The port of a sentinel named without one.
DEFAULT_SENTINEL_PORT: Final = 26379
#: Seconds to wait for a TCP connection, to a sentinel or the master, unless the URL says: a host
#: that is down fails in this time instead of the system's minutes, and the next sentinel is asked.
CONNECT_TIMEOUT: Final = 5.0
#: Seconds a sentinel may take to answer unless the URL says (it answers from memory).
SENTINEL_SOCKET_TIMEOUT: Final = 5.0
#: What the query's options for the sentinels start with.
SENTINEL_OPTION_PREFIX: Final = "sentinel_"

_FORM: Final = "redis+sentinel://[user:password@]host:port[,host:port...]/master_name[/db]"


class SentinelURL:
    """What a ``redis+sentinel://`` URL says: the sentinels, the master's name, and the keyword
    options of the master's connections and of the sentinels'."""

    __slots__ = ("master_name", "master_options", "sentinel_options", "sentinels")

    def __init__(self, sentinels: list[tuple[str, int]], master_name: str, master_options: dict[str, Any],
                 sentinel_options: dict[str, Any]) -> None:  # fmt: skip
        self.sentinels = sentinels
        self.master_name = master_name
        self.master_options = master_options
        self.sentinel_options = sentinel_options


def parse_sentinel_url(url: str) -> SentinelURL:
    """Read a ``redis+sentinel://`` or ``rediss+sentinel://`` URL; a :class:`ConfigurationError`
    saying what is wrong (and the URL's form) when it cannot be read."""
    scheme, separator, rest = url.partition("://")
    scheme = scheme.lower()
    if not separator or scheme not in SENTINEL_SCHEMES:
        raise ConfigurationError(f"{url!r} is not a Sentinel URL: use {_FORM}")
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    if not at:
        userinfo, hosts = "", netloc
    sentinels = parse_hosts(hosts, "sentinel", DEFAULT_SENTINEL_PORT, _FORM) if hosts else []
    if not sentinels:
        raise ConfigurationError(f"the Sentinel URL names no sentinel: use {_FORM}")
    parts = [urllib.parse.unquote(part) for part in path.split("/") if part]
    if not parts or len(parts) > 2:
        raise ConfigurationError(
            f"the Sentinel URL must name the master (and may name a database) after the sentinels: "
            f"use {_FORM}"
        )
    master_name, db = parts[0], parts[1] if len(parts) == 2 else "0"
    if not db.isdigit():
        raise ConfigurationError(f"the Sentinel URL's database {db!r} is not a number: use {_FORM}")
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    own = [(name, value) for name, value in pairs if not name.startswith(SENTINEL_OPTION_PREFIX)]
    theirs = [
        (name[len(SENTINEL_OPTION_PREFIX) :], value)
        for name, value in pairs
        if name.startswith(SENTINEL_OPTION_PREFIX)
    ]
    # redis-py's own URL parser reads each option's type (socket_timeout=2 is a float...): given a
    # redis:// URL of the same user part and options, it reads them as for any Redis URL.
    base = "rediss" if scheme == "rediss+sentinel" else "redis"
    auth = f"{userinfo}@" if userinfo else ""
    master_options = _read_options(f"{base}://{auth}sentinel/{db}", own, url)
    sentinel_options = _read_options("redis://sentinel", theirs, url)
    for options in (master_options, sentinel_options):
        options.pop("host", None)
        options.pop("port", None)
    sentinel_options.pop("db", None)  # sentinels have no databases
    return SentinelURL(sentinels, master_name, master_options, sentinel_options)


def _read_options(base: str, pairs: list[tuple[str, str]], url: str) -> dict[str, Any]:
    query = urllib.parse.urlencode(pairs)
    try:
        # (untyped in redis-py: called through a typed name)
        parse: Callable[[str], dict[str, Any]] = parse_url
        options = parse(f"{base}?{query}" if query else base)
    except ValueError as exc:
        raise ConfigurationError(f"the Sentinel URL is not valid: {exc}") from None
    return options


def sentinel_client(url: str, **options: Any) -> redis.Redis:
    """A client of the master that the sentinels of ``url`` name, found again after a failover.

    ``options`` are the master's connection options, as the URL's (they win over the URL's).
    Nothing connects yet: the first command asks the sentinels.
    """
    parsed = parse_sentinel_url(url)
    master_options: dict[str, Any] = {"socket_connect_timeout": CONNECT_TIMEOUT}
    master_options.update(parsed.master_options)
    master_options.update(options)
    # The pool picks its Sentinel-managed connection class itself, a TLS one for ssl=True.
    if master_options.pop("connection_class", None) is SSLConnection:
        master_options["ssl"] = True
    sentinel_options: dict[str, Any] = {
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_timeout": SENTINEL_SOCKET_TIMEOUT,
        # Each sentinel is asked once: a sentinel that does not answer is passed over for the next,
        # and the driver's callers wait out a store that cannot be reached by themselves.
        "retry": Retry(NoBackoff(), 0),
    }
    sentinel_options.update(parsed.sentinel_options)
    # redis-py's sentinel module had no annotations before 8.2: called through typed names, which
    # type-check with and without them.
    make_sentinel: Callable[..., Sentinel] = Sentinel
    try:
        sentinel = make_sentinel(parsed.sentinels, sentinel_kwargs=sentinel_options)
    except TypeError as exc:
        raise ConfigurationError(
            f"a sentinel_ option of the Sentinel URL is not one redis-py takes: {exc}"
        ) from None
    master_for: Callable[..., redis.Redis] = sentinel.master_for
    client = master_for(parsed.master_name, **master_options)
    _check_master_options(client, master_options)
    return client


def _check_master_options(client: redis.Redis, given: dict[str, Any]) -> None:
    """A :class:`ConfigurationError` for an option the master's connections do not take (redis-py
    would raise a ``TypeError`` at the first connection)."""
    pool = client.connection_pool
    taken = accepted_options(pool.connection_class)
    if taken is None:
        return
    # A Sentinel-managed connection takes its pool's proxy as connection_pool too.
    unknown = sorted(
        name for name in given if name in pool.connection_kwargs and name not in taken | {"connection_pool"}
    )
    if unknown:
        client.close()
        close = difflib.get_close_matches(unknown[0], sorted(taken), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigurationError(
            f"connection option {unknown[0]!r} of the Sentinel URL is not one the master's "
            f"connections take{hint}"
        )
