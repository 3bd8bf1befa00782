"""Which store a Queue, Job or Worker talks to.

``connection=`` accepts a redis-py client (fakeredis too), a :class:`jq.broker.Broker`, or a URL
(``redis://``, ``rediss://``, ``unix://``, ``sqlite://``, ``memory://`` and any scheme a plugin
adds). With none
given, jq uses the innermost ``with Connection(...)`` block (or :func:`push_connection`), else
the ``JQ_URL`` environment variable, else it raises :class:`NoConnectionError` saying how to give
one. Drivers name their keys under :func:`key_prefix`: ``jq:`` unless ``JQ_KEY_PREFIX`` says
otherwise.

Connection contexts live in a :class:`contextvars.ContextVar`: they nest, and each thread and
asyncio task sees its own.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
import warnings
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from jq.base.utils import public_module
from jq.broker import Broker
from jq.exceptions import ConfigurationError, NoConnectionError, NoRedisConnectionException
from jq.plugins import get_plugin_manager

__all__ = [
    "DEFAULT_URL",
    "KEY_PREFIX_ENV",
    "REDIS_RUNTIME_CONNECTION_KWARGS",
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
    "use_connection",
]

#: What ``Connection()`` and ``use_connection()`` connect to when given nothing and JQ_URL is unset.
DEFAULT_URL = "redis://localhost:6379/0"
#: The environment variable naming the store when no connection is given.
URL_ENV = "JQ_URL"
#: The environment variable naming the key prefix when none is given in code.
KEY_PREFIX_ENV = "JQ_KEY_PREFIX"
# Glob characters: Redis reads them in ACL key patterns (``~<prefix>*``) and SCAN patterns, so a
# prefix holding one could not be granted or matched as written.
_GLOB_CHARACTERS = frozenset("*?[]\\")

_stack: contextvars.ContextVar[tuple[Any, ...]] = contextvars.ContextVar("jq_connections", default=())
_url_brokers: dict[tuple[str, str], Broker] = {}
_url_lock = threading.Lock()


def _default_connection() -> Any:
    return os.environ.get(URL_ENV) or DEFAULT_URL


class Connection:
    """A context in which jq objects created without ``connection=`` use this connection.

    ``Connection()`` with no argument connects to ``JQ_URL``, else ``redis://localhost:6379/0``.
    """

    def __init__(self, connection: Any = None) -> None:
        self.connection = _default_connection() if connection is None else connection

    def __enter__(self) -> Any:
        push_connection(self.connection)
        return self.connection

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        popped = pop_connection()
        if popped is not self.connection:
            raise ConfigurationError(
                "connection contexts were exited out of order: a push_connection() inside this "
                "'with Connection(...)' block was not matched by pop_connection()"
            )


def push_connection(connection: Any) -> None:
    """Make ``connection`` the current one until :func:`pop_connection`."""
    _stack.set((*_stack.get(), connection))


def pop_connection() -> Any:
    """Remove and return the current connection."""
    stack = _stack.get()
    if not stack:
        raise NoConnectionError("pop_connection() was called with no connection pushed")
    _stack.set(stack[:-1])
    return stack[-1]


def use_connection(connection: Any = None) -> None:
    """Deprecated: replace every pushed connection with ``connection``.

    It sets one process-wide default; prefer ``with Connection(...)`` or ``connection=``.
    """
    warnings.warn(
        "use_connection() is deprecated: pass connection= or use 'with Connection(...)'",
        DeprecationWarning,
        stacklevel=2,
    )
    _stack.set((_default_connection() if connection is None else connection,))


def get_current_connection() -> Any:
    """The innermost pushed connection, or None."""
    stack = _stack.get()
    return stack[-1] if stack else None


def resolve_connection(connection: Any = None) -> Any:
    """The connection object to use: the given one, the current context's, or ``JQ_URL``."""
    if connection is not None:
        return connection
    current = get_current_connection()
    if current is not None:
        return current
    url = os.environ.get(URL_ENV)
    if url:
        return url
    raise NoConnectionError(
        "no connection given: pass connection=redis.Redis(...) or a URL such as "
        "'redis://localhost:6379/0', 'sqlite:///jobs.db' or 'memory://', use "
        "'with Connection(...)', or set JQ_URL"
    )


def key_prefix(prefix: str | None = None, default: str = "jq:") -> str:
    """The key prefix to store under: ``prefix`` when given, else ``JQ_KEY_PREFIX``, else
    ``default`` (the driver's own, ``jq:`` for jq's drivers). An empty ``JQ_KEY_PREFIX`` counts
    as unset, as ``JQ_URL`` and jqueue's other variables do.

    Several applications can share one Redis database, each under its own prefix, as long as
    neither prefix starts with the other. A prefix is refused with :class:`ConfigurationError`
    when it is empty, holds whitespace, a control or glob character (``*?[]\\``), does not end
    with ``:``, or opens a Redis Cluster hash tag it does not close (``{app}:`` is a tag: every
    key then lives in one slot, which the scripts that touch many keys need on Cluster).
    """
    source = "key prefix"
    if prefix is None:
        prefix = os.environ.get(KEY_PREFIX_ENV) or None
        if prefix is None:
            return default
        source = KEY_PREFIX_ENV
    if not isinstance(prefix, str):
        raise ConfigurationError(f"the {source} must be a string such as 'myapp:', not {prefix!r}")
    problem = _prefix_problem(prefix)
    if problem is not None:
        raise ConfigurationError(
            f"the {source} {prefix!r} cannot be used: {problem} (use e.g. 'myapp:', or '{{myapp}}:' "
            "for Redis Cluster)"
        )
    return prefix


def _prefix_problem(prefix: str) -> str | None:
    if not prefix:
        return "it is empty"
    if any(char.isspace() or not char.isprintable() for char in prefix):
        return "it holds whitespace or a control character"
    if _GLOB_CHARACTERS.intersection(prefix):
        return "it holds one of *?[]\\, which ACL key patterns and SCAN read as wildcards"
    if not prefix.endswith(":"):
        # Keys read <prefix><kind>:<name>; without a separator 'app' and 'appjob:' would overlap.
        return "it must end with ':'"
    opening = prefix.find("{")
    if opening != -1:
        closing = prefix.find("}", opening + 1)
        if closing == -1:
            return "it opens a hash tag with '{' that it does not close"
        if closing == opening + 1:
            return "its hash tag '{}' is empty, and Redis Cluster ignores an empty tag"
    return None


def resolve_broker(connection: Any = None) -> Broker:
    """The :class:`Broker` for ``connection`` (see :func:`resolve_connection` for None)."""
    connection = resolve_connection(connection)
    if isinstance(connection, Broker):
        return connection
    plugins = get_plugin_manager()
    if isinstance(connection, str):
        return _broker_for_url(connection, plugins)
    broker = plugins.broker_from_connection(connection)
    if broker is None:
        raise ConfigurationError(
            f"connection {connection!r} is not something jq can use: pass a redis-py client, a "
            "jq broker, or a URL such as 'redis://localhost:6379/0', 'sqlite:///jobs.db' or "
            "'memory://'"
        )
    return broker


@contextlib.contextmanager
def fresh_url_brokers() -> Iterator[None]:
    """Within the block, a URL resolves to a broker made afresh, not to one cached before the
    block; on exit the brokers made inside are closed and forgotten, and the earlier ones come
    back.

    For tests: jq's pytest plugin gives each test its own this way, so that ``memory://`` names
    that test's store and a Redis URL the key prefix the test set. The cache is process-wide, so
    blocks must not overlap in different threads.
    """
    with _url_lock:
        before = dict(_url_brokers)
        _url_brokers.clear()
    try:
        yield
    finally:
        with _url_lock:
            made = list(_url_brokers.values())
            _url_brokers.clear()
            _url_brokers.update(before)
        for broker in made:
            broker.close()


def _broker_for_url(url: str, plugins: Any) -> Broker:
    # A broker stores under the prefix current when it was made: another prefix needs another one.
    cache_key = (url, key_prefix())
    with _url_lock:
        broker = _url_brokers.get(cache_key)
        if broker is None:
            if "://" not in url:
                raise ConfigurationError(
                    f"{url!r} is not a URL: use e.g. 'redis://localhost:6379/0', "
                    "'unix:///path/to/redis.sock', 'rediss://host:6380', 'sqlite:///jobs.db' or "
                    "'memory://'"
                )
            try:
                broker = plugins.broker_from_url(url, {})
            except ConfigurationError:
                raise
            except ValueError as exc:
                raise ConfigurationError(f"URL {url!r} is not valid: {exc}") from exc
            if broker is None:
                scheme = url.split("://", 1)[0]
                raise ConfigurationError(
                    f"no jq backend handles {scheme}:// URLs: use redis://, rediss://, unix://, "
                    "sqlite:// or memory://, or install the plugin for this scheme (is jqueue installed?)"
                )
            _url_brokers[cache_key] = broker
        return broker


#: Options of a redis-py connection pool that describe that pool's own state (locks, handlers,
#: the addresses it was redirected from), not how to connect: :func:`get_connection_kwargs`
#: leaves them out, so that a client rebuilt from its result (in a forked process) starts clean.
REDIS_RUNTIME_CONNECTION_KWARGS = (
    "maint_notifications_config",
    "maint_notifications_pool_handler",
    "himport_registry",
    "event_dispatcher",
    "orig_host_address",
    "orig_socket_timeout",
    "orig_socket_connect_timeout",
)


def _redis_client(connection: Any) -> Any:
    """The redis-py client of ``connection`` (a client, or a broker or URL of the Redis driver)."""
    if not hasattr(connection, "connection_pool"):
        connection = resolve_broker(connection).connection
    if not hasattr(connection, "connection_pool"):
        raise TypeError(f"{connection!r} is not a Redis connection: it has no connection settings")
    return connection


def same_store(first: Broker, second: Broker) -> bool:
    """Whether two brokers reach the same jobs: the same broker, or the same store under the same
    key names (see :meth:`jq.broker.Broker.same_store_as`: for Redis, clients of one server and
    database, whatever their options)."""
    return first is second or first.same_store_as(second)


def get_connection_kwargs(connection: Any) -> dict[str, Any]:
    """The settings that rebuild ``connection``'s connection pool (in another process, say):
    its pool's ``connection_kwargs`` without :data:`REDIS_RUNTIME_CONNECTION_KWARGS` and without
    the placeholders redis-py uses for options left unset.

    ``connection`` is a redis-py client, or a broker or URL of the Redis driver; anything else
    is a :class:`TypeError`.
    """
    settings = dict(_redis_client(connection).connection_pool.connection_kwargs)
    for name in REDIS_RUNTIME_CONNECTION_KWARGS:
        settings.pop(name, None)
    # redis-py marks an option left unset with a bare object(), recognized by identity: a copy
    # made in another process would be taken for a real value.
    return {name: value for name, value in settings.items() if type(value) is not object}


def parse_connection(connection: Any) -> tuple[type[Any], type[Any], dict[str, Any]]:
    """``(client class, connection class, pool settings)``: what rebuilds ``connection`` as
    ``client_class(connection_pool=ConnectionPool(connection_class=..., **settings))``."""
    client = _redis_client(connection)
    return type(client), client.connection_pool.connection_class, get_connection_kwargs(client)


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.connections", Connection)
