"""What the Redis driver does when its master fails over, and the option to wait for replicas.

A failover (Redis Sentinel promoting a replica, a managed service moving its primary endpoint)
leaves a client's open connections where they were: on the old master, which either answers
writes with ``READONLY`` (it was demoted), unblocks a waiting ``BLPOP`` with ``UNBLOCKED``, refuses
them with ``NOREPLICAS`` (``min-replicas-to-write``), or, for a few seconds until the sentinels
demote it, still takes them — writes a replica never sees, lost when the old master resyncs.

* :func:`master_gone` names the refusals that mean "this server is not the master any more":
  the driver turns them into :class:`MasterChangedError`, a ``redis.ConnectionError`` (so every
  caller treats it as the store being away for a moment, and the call is re-sent with its
  request identity), after dropping the pool's idle connections so that the next one finds the
  master again (asks the sentinels, or resolves the name again).
* :class:`MasterWatch` asks the sentinels of a Sentinel-managed client where the master is, at
  most once every :data:`WATCH_INTERVAL` seconds while the driver makes calls, and drops the
  connection the scripts hold when it is elsewhere: the window in which an old master still
  takes writes shrinks from the sentinels' time to demote it (about ten seconds) to this interval.
* :class:`Durability` is the opt-in ``WAIT``: each write waits until ``replicas`` replicas
  have it (up to ``timeout``), sent with its script in the same round trip, on the same
  connection (``WAIT`` counts only the writes made before it on its own connection, and does not
  block inside a ``MULTI``). Under it the writes that are plain commands or a ``MULTI`` otherwise
  (a job's save, locks, suspension, registry entries, groups) are scripts too
  (:data:`~jq_backends.redis.scripts.WAITING_ONLY_SCRIPTS`), and a caller's own pipeline is
  refused. A write that no replica confirmed in time raises :class:`ReplicaWaitError` (a
  connection error too): its caller's repeat, with the same request identity, gets the recorded
  reply and waits again, on the new master after a failover — where the write is applied if it
  was lost. Only a worker's pop of a wake token (a hint, see ``RedisQueues``) and ``PUBLISH``
  (stored nowhere) do not wait.
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import redis
from redis.exceptions import MasterDownError
from redis.sentinel import SentinelConnectionPool

from jq.exceptions import ConfigurationError

__all__ = [
    "DURABILITY_OPTIONS",
    "WATCH_INTERVAL",
    "Durability",
    "MasterChangedError",
    "MasterWatch",
    "ReplicaWaitError",
    "forget_connections",
    "master_gone",
    "take_durability",
]

logger = logging.getLogger("jq.broker.redis")

#: Seconds between two questions to the sentinels about where the master is.
WATCH_INTERVAL: Final = 1.0

#: The starts of the error replies that mean the server no longer takes writes as the master:
#: a demoted master (READONLY), a blocked command ended by the demotion (UNBLOCKED), a master that
#: lost its replicas under min-replicas-to-write (NOREPLICAS), a replica that lost its master
#: (MASTERDOWN).
_GONE: Final = ("READONLY", "UNBLOCKED", "NOREPLICAS", "MASTERDOWN")

#: The query options of a Redis URL that are the driver's, not a connection's.
DURABILITY_OPTIONS: Final = ("wait_replicas", "wait_timeout")


class MasterChangedError(redis.ConnectionError):
    """The server refused a write as a master would not (it is a replica now, or has no replica
    under ``min-replicas-to-write``): nothing was written, and the next connection goes to the
    master again."""


class ReplicaWaitError(redis.ConnectionError):
    """A write was made on the master, and fewer replicas than asked confirmed it in time: it is
    in doubt (a failover now could lose it), and is sent again with its request identity."""


def master_gone(error: BaseException) -> bool:
    """Whether a Redis error reply says the server is not a writable master any more."""
    # redis-py takes the code off the replies it has a class for (READONLY), not off the others.
    return isinstance(error, (redis.ReadOnlyError, MasterDownError)) or (
        isinstance(error, redis.ResponseError) and str(error).startswith(_GONE)
    )


def forget_connections(client: redis.Redis) -> None:
    """Drop the idle connections of ``client``'s pool (the ones in use fail on their own), so that
    the next ones connect afresh: to the master the sentinels name now, or by resolving the host's
    name again. (A cluster client follows its cluster's failovers by itself.)"""
    pool = getattr(client, "connection_pool", None)
    if pool is not None:
        pool.disconnect(inuse_connections=False)


class MasterWatch:
    """Whether the master of a Sentinel-managed client moved since the last look (see the
    module's docstring); for any other client it never looks and never says so."""

    def __init__(self, client: redis.Redis, interval: float = WATCH_INTERVAL) -> None:
        pool = getattr(client, "connection_pool", None)  # a cluster client has none of its own
        self._pool = pool if isinstance(pool, SentinelConnectionPool) else None
        #: Whether it ever looks (a Sentinel-managed client): callers skip it otherwise.
        self.active = self._pool is not None
        self._interval = interval
        self._next = 0.0

    def moved(self, address: tuple[str, int] | None, *, now: bool = False) -> bool:
        """Whether the master is elsewhere than ``address`` (the held connection's), asking the
        sentinels if :data:`WATCH_INTERVAL` passed since the last question (at once with
        ``now``). A question no sentinel answers says nothing: the calls find out by themselves."""
        if self._pool is None or address is None:
            return False
        clock = time.monotonic()
        if not now and clock < self._next:
            return False
        self._next = clock + self._interval
        try:
            # It also drops the pool's idle connections to an old master.
            # (untyped in redis-py: called through a typed name)
            ask: Callable[[], tuple[str, int]] = self._pool.get_master_address
            master = ask()
        except redis.RedisError as error:
            logger.debug("no sentinel said where the master is: %s", error)
            return False
        return tuple(master) != tuple(address)


@dataclass(frozen=True)
class Durability:
    """Wait for ``replicas`` replicas to confirm each write, up to ``timeout`` seconds."""

    replicas: int
    timeout: float

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise ConfigurationError(f"wait_replicas must be 1 or more, not {self.replicas}")
        if not self.timeout > 0:
            raise ConfigurationError(f"wait_timeout must be a number of seconds above 0, not {self.timeout}")

    @property
    def command(self) -> tuple[Any, ...]:
        """The ``WAIT`` command that follows each script."""
        return ("WAIT", self.replicas, max(1, round(self.timeout * 1000)))

    def check(self, confirmed: int, script: str) -> None:
        """Raise :class:`ReplicaWaitError` when fewer replicas than asked confirmed ``script``;
        its message says what the caller does about it."""
        if confirmed < self.replicas:
            raise ReplicaWaitError(
                f"the write of script {script} was confirmed by {confirmed} of the {self.replicas} "
                f"replica(s) asked for (wait_replicas) within {self.timeout} s: it was made on the "
                "master, but a failover now could lose it. Call again to send it again (it applies "
                "once; jq's workers do so by themselves). While this goes on the master has fewer "
                f"than {self.replicas} replica(s) in sync: see connected_slaves in the master's INFO "
                "replication, bring a replica back, or lower wait_replicas (raise wait_timeout for "
                "a slow replica)"
            )


#: The default of ``wait_timeout`` when only ``wait_replicas`` is given.
DEFAULT_WAIT_TIMEOUT: Final = 1.0


def take_durability(url: str, options: dict[str, Any]) -> tuple[str, Durability | None]:
    """Take the driver's ``wait_replicas`` and ``wait_timeout`` out of ``url``'s query and out of
    ``options`` (which win); the URL without them and the :class:`Durability` they ask for."""
    head, mark, query = url.partition("?")
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True) if mark else []
    found = {name: value for name, value in pairs if name in DURABILITY_OPTIONS}
    kept = [(name, value) for name, value in pairs if name not in DURABILITY_OPTIONS]
    for name in DURABILITY_OPTIONS:
        if name in options:
            found[name] = options.pop(name)
    if kept:
        head = f"{head}?{urllib.parse.urlencode(kept, safe='/')}"
    if not found:
        return head, None
    if "wait_replicas" not in found:
        raise ConfigurationError("wait_timeout applies with wait_replicas: give both (e.g. wait_replicas=1)")
    replicas = _number(found["wait_replicas"], int, "wait_replicas", "a whole number such as 1")
    timeout = _number(
        found.get("wait_timeout", DEFAULT_WAIT_TIMEOUT), float, "wait_timeout", "seconds, such as 0.5"
    )
    return head, Durability(replicas, timeout)


def _number(value: object, kind: Callable[[Any], Any], name: str, expected: str) -> Any:
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{name}={value!r} is not {expected}") from None
