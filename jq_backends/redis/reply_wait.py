"""Waiting for a reply by polling the socket for a moment before sleeping on it.

A process that blocks on a socket read sleeps, and waking it when the reply comes is slow on many
machines: on the 2-core virtual machine jq's benchmarks run on, a PING on loopback takes ~90 µs
when the client blocks in ``recv`` and ~30 µs when it polls the socket until the reply is there.
A worker makes one call per job and a producer one per enqueue, each answered by the server in
tens of microseconds, so most of a call's time would be the wake-up.

:class:`ReplyWait` polls the connection's socket (``poll`` with a zero timeout, yielding the CPU
between polls so that a server on the same core can run) for up to a short window, then leaves
the read to block as before. The window only ever ends a wait early: the reply, its parsing,
timeouts and errors are redis-py's as without it.

The one private internal of redis-py that jq uses is here, in :func:`reply_socket`: a
connection's ``_sock``. redis-py's public way to ask, ``Connection.can_read(timeout=0)``, builds
a poll object and checks that the socket is not closed (a ``MSG_PEEK`` read) on each call:
~16,400 instructions a call against ~1,900 for polling the socket directly, so ~14,500 more per
round trip, 4 % of an enqueue's ~370,000 in the client (callgrind; see docs/architecture.md,
"Private internals"). Where ``_sock`` is missing or not a socket, the wait polls with
``can_read`` instead; ``tests/test_reply_wait.py`` fails if redis-py stops having it.

It adapts: when replies keep coming later than the window (a remote server, a slow script, a
bulk call), polling is only CPU spent for nothing, so after :data:`MISSES_BEFORE_PAUSE` such
waits in a row it stops polling for the next :data:`PAUSED_CALLS` calls, then tries again.

The window is ``JQ_REDIS_POLL_US`` microseconds (default :data:`DEFAULT_WINDOW_US`; ``0`` turns
polling off, for a process that must never spin, such as one sharing a single core with Redis).
"""

from __future__ import annotations

import os
import select
import socket
import time
from typing import Any, Final

from jq.base.utils import environment_value
from jq.exceptions import ConfigurationError

__all__ = [
    "DEFAULT_WINDOW_US",
    "MISSES_BEFORE_PAUSE",
    "PAUSED_CALLS",
    "POLL_WINDOW_ENV",
    "ReplyWait",
    "reply_socket",
    "window_from_env",
]

#: The environment variable that sets the polling window, in microseconds.
POLL_WINDOW_ENV: Final = "JQ_REDIS_POLL_US"
#: The default window: longer than a worker's finish-and-claim takes on a loaded loopback server.
DEFAULT_WINDOW_US: Final = 200
#: The largest window accepted (a tenth of a second): longer would be a mistake, not a tuning.
MAX_WINDOW_US: Final = 100_000
#: Replies later than the window, in a row, after which polling pauses.
MISSES_BEFORE_PAUSE: Final = 3
#: Calls made without polling once it pauses.
PAUSED_CALLS: Final = 200


def window_from_env() -> float:
    """The polling window in seconds from ``JQ_REDIS_POLL_US`` (unset or empty: the default)."""
    text = environment_value(POLL_WINDOW_ENV).strip()
    if not text:
        return DEFAULT_WINDOW_US / 1_000_000
    if not text.isdigit() or int(text) > MAX_WINDOW_US:
        raise ConfigurationError(
            f"{POLL_WINDOW_ENV} must be a whole number of microseconds from 0 (no polling) to "
            f"{MAX_WINDOW_US:,}, not {text!r}; the default is {DEFAULT_WINDOW_US}"
        )
    return int(text) / 1_000_000


def reply_socket(connection: Any) -> socket.socket | None:
    """The OS socket a redis-py connection reads its replies from, or None: redis-py's private
    ``Connection._sock``, read here only (see the module's docstring for why, and the test)."""
    sock = getattr(connection, "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


class ReplyWait:
    """Polls one connection for a reply for up to ``window`` seconds; see the module."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._poller: Any = None
        self._fd = -1
        self._misses = 0
        self._paused = 0

    def wait(self, connection: Any) -> None:
        """Return once ``connection`` (a redis-py ``Connection``) has a reply to read or the window
        has passed (whichever is first); at once when polling is off or paused."""
        if self.window <= 0:
            return
        if self._paused:
            self._paused -= 1
            return
        sock = reply_socket(connection)
        ready = connection.can_read if sock is None else self._poll_for(sock)
        deadline = time.perf_counter() + self.window
        while not ready(0):
            if time.perf_counter() >= deadline:
                self._missed()
                return
            os.sched_yield()
        self._misses = 0

    def _poll_for(self, sock: socket.socket) -> Any:
        fd = sock.fileno()
        if fd != self._fd:  # a new connection (or the first): register its socket
            poller = select.poll()
            poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
            self._poller, self._fd = poller, fd
        return self._poller.poll

    def _missed(self) -> None:
        self._misses += 1
        if self._misses >= MISSES_BEFORE_PAUSE:
            self._misses, self._paused = 0, PAUSED_CALLS
