"""Which store a Queue, Job or Worker talks to.

``connection=`` accepts a redis-py client (fakeredis too), a :class:`jq.broker.Broker`, or a URL
(``redis://``, ``rediss://``, ``unix://``, ``memory://`` and any scheme a plugin adds). With none
given, jq uses the innermost ``with Connection(...)`` block (or :func:`push_connection`), else
the ``JQ_URL`` environment variable, else it raises :class:`NoConnectionError` saying how to give
one.

Connection contexts live in a :class:`contextvars.ContextVar`: they nest, and each thread and
asyncio task sees its own.
"""

from __future__ import annotations

import contextvars
import os
import threading
import warnings
from types import TracebackType
from typing import Any

from jq.broker import Broker
from jq.exceptions import ConfigurationError, NoConnectionError

__all__ = [
    "DEFAULT_URL",
    "Connection",
    "get_current_connection",
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

_stack: contextvars.ContextVar[tuple[Any, ...]] = contextvars.ContextVar("jq_connections", default=())
_url_brokers: dict[str, Broker] = {}
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
        "'redis://localhost:6379/0' or 'memory://', use 'with Connection(...)', or set JQ_URL"
    )


def resolve_broker(connection: Any = None) -> Broker:
    """The :class:`Broker` for ``connection`` (see :func:`resolve_connection` for None)."""
    connection = resolve_connection(connection)
    if isinstance(connection, Broker):
        return connection
    from jq.plugins import get_plugin_manager

    plugins = get_plugin_manager()
    if isinstance(connection, str):
        return _broker_for_url(connection, plugins)
    broker = plugins.broker_from_connection(connection)
    if broker is None:
        raise ConfigurationError(
            f"connection {connection!r} is not something jq can use: pass a redis-py client, a "
            "jq broker, or a URL such as 'redis://localhost:6379/0' or 'memory://'"
        )
    return broker


def _broker_for_url(url: str, plugins: Any) -> Broker:
    with _url_lock:
        broker = _url_brokers.get(url)
        if broker is None:
            if "://" not in url:
                raise ConfigurationError(
                    f"{url!r} is not a URL: use e.g. 'redis://localhost:6379/0', "
                    "'unix:///path/to/redis.sock', 'rediss://host:6380' or 'memory://'"
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
                    f"no jq backend handles {scheme}:// URLs: use redis://, rediss://, unix:// or "
                    "memory://, or install the plugin for this scheme (is jqueue installed?)"
                )
            _url_brokers[url] = broker
        return broker
