"""One pooled connection kept checked out for the driver's hot calls.

A call through redis-py's client checks a connection out of the pool and back in, runs retry and
observability wrappers and looks up response callbacks: about 40 µs of Python per call here, a
third of a whole round trip on loopback. A worker makes one call per job and a producer one per
enqueue, so :class:`HotConnection` keeps one connection checked out and talks to it directly:
pack the command, send it, read the reply.

It changes nothing that a caller can see:

* One thread at a time. A thread that finds it busy uses the client as usual, so threads never
  wait for each other here (and a web server's many threads never hold a connection each).
* After a fork the parent's connection is left alone (closing it in the child would shut the
  parent's socket down); the child checks out its own.
* A connection error or timeout disconnects the held connection and hands the call to the
  client, whose own retry policy then applies, exactly as for a call that never came here.
* A connection unused for :data:`IDLE_SECONDS` goes back to the pool before the next call and
  a fresh one is checked out: the pool's check-out notices a socket the server has closed
  meanwhile (an idle timeout), so the call does not fail on it.
* A :class:`HotConnection` dropped without :meth:`HotConnection.close` (its broker was garbage
  collected: ``Worker.all(connection=client)`` makes a short-lived one) gives its connection back
  to the pool then, so short-lived brokers never drain a client's pool.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Final

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from jq_backends.redis.connection import is_fake
from jq_backends.redis.reply_wait import ReplyWait, window_from_env

__all__ = ["IDLE_SECONDS", "DirectCalls", "HotConnection"]

_hiredis_pack: Callable[[tuple[Any, ...]], bytes] | None
try:
    from hiredis import pack_command as _hiredis_pack
except ImportError:  # hiredis is an optional extra
    _hiredis_pack = None

#: A held connection unused this long is checked out again before use.
IDLE_SECONDS: Final = 5.0


# Arguments of every type jq sends (and a non-ASCII text, which a client's own encoding could
# write otherwise): hiredis packs a connection's commands directly only if the connection's own
# public pack_command gives these the very same bytes.
_PROBE: Final = ("EVALSHA", "jq:job:é-1", b"\x00\xff", 7, 1.5, "")


def _packs_as_hiredis(connection: Any) -> bool:
    """Whether ``hiredis.pack_command`` packs commands for ``connection`` exactly as its own
    ``pack_command`` does (public API only; checked once per connection checked out)."""
    if _hiredis_pack is None:
        return False
    try:
        return b"".join(connection.pack_command(*_PROBE)) == _hiredis_pack(_PROBE)
    except Exception:  # a packer that refuses the probe: use the connection's own
        return False


def _reply_or_error(connection: Any) -> Any:
    """The next reply on ``connection``; an error reply is returned as its exception, so that the
    replies after it are still read."""
    try:
        return connection.read_response()
    except ResponseError as error:
        return error


class _Held:
    """The connection a :class:`HotConnection` holds and the process that checked it out, apart
    from the HotConnection itself so that its finalizer can give the connection back."""

    __slots__ = ("connection", "pid")

    def __init__(self) -> None:
        self.connection: Any = None
        self.pid = os.getpid()


def _give_back(pool: Any, held: _Held) -> None:
    """Return the held connection to ``pool`` (in the process that checked it out only)."""
    connection, held.connection = held.connection, None
    if connection is not None and held.pid == os.getpid():
        pool.release(connection)


class HotConnection:
    """Runs commands on one held connection of ``client``'s pool; see the module's docstring."""

    def __init__(self, client: redis.Redis, reply_wait: ReplyWait | None = None) -> None:
        self._client = client
        # Polls for each reply a moment before the read sleeps (see reply_wait.py); not on a
        # fakeredis client, whose replies are there at once.
        if reply_wait is None:
            reply_wait = ReplyWait(0 if is_fake(client) else window_from_env())
        self._reply_wait = reply_wait
        self._pool = client.connection_pool
        self._lock = threading.Lock()
        self._held = _Held()
        weakref.finalize(self, _give_back, self._pool, self._held)
        self._last_used = 0.0
        # Whether commands may be packed by hiredis directly (see _pack).
        self._direct_pack = False

    def execute(self, fallback: Callable[[], Any], *args: Any) -> Any:
        """The reply to the command ``args``; ``fallback()`` (the same command through the client)
        when the held connection is busy or fails."""
        if not self._lock.acquire(blocking=False):
            return fallback()
        try:
            connection = self._checked_out()
            try:
                connection.send_packed_command(self._pack(connection, args), check_health=False)
                self._reply_wait.wait(connection)
                reply = connection.read_response()
            except (RedisConnectionError, RedisTimeoutError, OSError):
                self._drop(disconnect=True)
                return fallback()
            self._last_used = time.monotonic()
            return reply
        finally:
            self._lock.release()

    def execute_pair(
        self, fallback: Callable[[], tuple[Any, Any]], first: tuple[Any, ...], second: tuple[Any, ...]
    ) -> tuple[Any, Any]:
        """The replies to two commands sent together (one round trip), an error reply as the
        exception it would raise; ``fallback()`` (the same two through the client) when the held
        connection is busy or fails."""
        if not self._lock.acquire(blocking=False):
            return fallback()
        try:
            connection = self._checked_out()
            try:
                connection.send_packed_command(
                    [*self._pack(connection, first), *self._pack(connection, second)], check_health=False
                )
                self._reply_wait.wait(connection)
                replies = (_reply_or_error(connection), _reply_or_error(connection))
            except (RedisConnectionError, RedisTimeoutError, OSError):
                self._drop(disconnect=True)
                return fallback()
            self._last_used = time.monotonic()
            return replies
        finally:
            self._lock.release()

    @property
    def address(self) -> tuple[str, int] | None:
        """The (host, port) of the held connection, None when none is held (or it is not TCP)."""
        connection = self._held.connection
        if connection is None or self._held.pid != os.getpid():
            return None
        host, port = getattr(connection, "host", None), getattr(connection, "port", None)
        return None if host is None or port is None else (str(host), int(port))

    def _pack(self, connection: Any, args: tuple[Any, ...]) -> Any:
        """The command as bytes to send. redis-py's ``pack_command`` walks and encodes the
        arguments in Python before hiredis packs them: ~218,000 instructions for an enqueue's
        call against ~31,000 for ``hiredis.pack_command`` directly (callgrind; docs/architecture.md,
        "Private internals"). Where the connection's own packing gives the same bytes (checked
        with a probe, see :func:`_packs_as_hiredis`), jq calls hiredis itself."""
        if self._direct_pack and _hiredis_pack is not None:
            return [_hiredis_pack(args)]
        return connection.pack_command(*args)

    def close(self) -> None:
        """Give the held connection back to the pool."""
        with self._lock:
            self._drop(disconnect=False)

    def _checked_out(self) -> Any:
        if self._held.pid != os.getpid():
            # A forked child: the connection is the parent's. Forget it without touching it.
            self._held.connection, self._held.pid = None, os.getpid()
        elif self._held.connection is not None and time.monotonic() - self._last_used > IDLE_SECONDS:
            self._drop(disconnect=False)
        if self._held.connection is None:
            connection = self._held.connection = self._pool.get_connection()
            self._direct_pack = _packs_as_hiredis(connection)
        return self._held.connection

    def _drop(self, *, disconnect: bool) -> None:
        connection, self._held.connection = self._held.connection, None
        if connection is None:
            return
        if disconnect:
            connection.disconnect()
        self._pool.release(connection)


class DirectCalls:
    """What stands for a :class:`HotConnection` where no connection can be held: every call goes
    through the client (a Redis Cluster client, which picks the node of each call's keys)."""

    address = None

    def execute(self, fallback: Callable[[], Any], *args: Any) -> Any:
        """``fallback()``: the command through the client."""
        return fallback()

    def execute_pair(
        self, fallback: Callable[[], tuple[Any, Any]], first: tuple[Any, ...], second: tuple[Any, ...]
    ) -> tuple[Any, Any]:
        """``fallback()``: the two commands through the client."""
        return fallback()

    def close(self) -> None:
        """Nothing is held."""
