"""The Redis driver's shared state: the client, its scripts, the key names and the URL.

:class:`RedisState` is what every concern's mixin (:mod:`.records`, :mod:`.queues`,
:mod:`.registries`, :mod:`.workers`) works through; it holds no data itself, Redis does.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, cast

import redis
from redis.cluster import RedisCluster

from jq.broker.clock import StoreClock
from jq_backends.keys import KeySpace
from jq_backends.redis import codec
from jq_backends.redis.cluster import broker_prefix
from jq_backends.redis.connection import (
    Client,
    binary_twin,
    check_fake_lua,
    client_url,
    decodes_responses,
    is_cluster,
    is_fake,
    socket_timeout,
)
from jq_backends.redis.failover import DEFAULT_WAIT_TIMEOUT, Durability
from jq_backends.redis.options import check_connection_options
from jq_backends.redis.scripts import ScriptRunner

__all__ = ["RedisState", "is_wrong_type"]

logger = logging.getLogger("jq.broker.redis")


def is_wrong_type(error: BaseException) -> bool:
    """Whether Redis refused a command because a key holds another type (WRONGTYPE)."""
    return isinstance(error, redis.ResponseError) and "WRONGTYPE" in str(error)


def server_time(client: redis.Redis, slot_key: str | None = None) -> float:
    """The server's ``TIME``, in seconds since the epoch (one round trip). On a cluster
    (``slot_key``: a key of the broker's slot), the clock of the master serving that slot: the
    one the scripts read, where a cluster client would send ``TIME`` to any node."""
    if slot_key is None:
        seconds, micros = client.time()
    else:
        cluster = cast("RedisCluster", client)
        # (Untyped in redis-py: called through typed names.)
        node_of: Callable[[str], object] = cluster.get_node_from_key
        send: Callable[..., tuple[int, int]] = cluster.execute_command
        seconds, micros = send("TIME", target_nodes=node_of(slot_key))
    return int(seconds) + int(micros) / 1_000_000


class RedisState:
    """A binary client on one Redis database, the scripts loaded on it, and the key names.

    :param client: a redis-py client (a fakeredis client works too), or a Redis Cluster client; see
        :class:`jq_backends.redis.RedisBroker`.
    :param prefix: the start of every key name (:class:`jq_backends.keys.KeySpace`); None for
        ``JQ_KEY_PREFIX``, else ``jq:`` (``{jq}:`` on a cluster, where it must hold a hash tag:
        see :mod:`jq_backends.redis.cluster`; checked by :func:`jq.connections.key_prefix`).
    :param wait_replicas: with 1 or more, each write waits until that many replicas have it, up
        to ``wait_timeout`` seconds, and is sent again when they do not confirm it in time (see
        :mod:`jq_backends.redis.failover`): each state change is a script, and the writes that are
        plain commands or a ``MULTI`` otherwise are scripts too then (``WAIT`` must follow a write
        on its connection, and a script carries the request identity that makes a repeat apply
        once). A caller's own pipeline (``pipeline=``) is refused then. 0: no waiting.
    """

    def __init__(
        self,
        client: Client,
        *,
        prefix: str | None = None,
        wait_replicas: int = 0,
        wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
    ) -> None:
        # Before any connection: a misspelt or misplaced option is a clear error now, not a
        # TypeError from inside redis-py at the first command.
        if not isinstance(client, RedisCluster):
            check_connection_options(client)
            check_fake_lua(client)
        prefix = broker_prefix(client, prefix)
        self._connection = client
        self._keys = KeySpace(prefix)
        self._twin = binary_twin(client) if decodes_responses(client) else None
        # A cluster client has the commands of a client of one server (typed as one): on a
        # cluster every key of the broker is in one slot, and each command goes to its master.
        self._client: redis.Redis = cast("redis.Redis", self._twin if self._twin is not None else client)
        #: Whether the client is a Redis Cluster client (no connection pool of its own).
        self._cluster = is_cluster(client)
        self._owns_connection = False
        durability = Durability(wait_replicas, wait_timeout) if wait_replicas else None
        #: Whether every write waits for replicas: the writes that are plain commands otherwise
        #: go through the scripts then (see ``wait_replicas``).
        self._waits = durability is not None
        self._scripts = ScriptRunner(self._client, prefix, durability)
        self._url = client_url(client)
        self._socket_timeout = socket_timeout(self._client)
        # A fakeredis server lives in this process: a forked work horse would see a copy.
        self.shares_across_processes = not is_fake(client)
        #: The server's clock, read once a minute and followed with the monotonic clock between.
        #: (It reads through the client, not the broker: a clock that held the broker would make
        #: every broker a reference cycle, whose connections only the garbage collector closes.)
        slot_key = prefix if self._cluster else None  # on a cluster: its slot's master's clock
        self._clock = StoreClock(functools.partial(server_time, self._client, slot_key))
        # (key, type) of the keys of the wrong type a claim reported (each is logged once), the
        # queues the last claim skipped for one, and wake keys BLPOP refused (see RedisQueues).
        self._reported: set[tuple[str, str]] = set()
        self._skipped_queues: set[str] = set()
        self._bad_wake_keys: set[str] = set()

    def _server_of(self, key: str) -> redis.Redis:
        """A client of the one server that holds ``key``: the client itself, or on a cluster the
        client of the master that serves ``key``'s slot now (for what must reach that very node:
        a probe on one connection, a setting of the server that holds the broker's keys)."""
        if not self._cluster:
            return self._client
        # (untyped in redis-py: called through a typed name)
        node_of: Callable[[str], Any] = self._client.get_node_from_key  # type: ignore[attr-defined]
        server: redis.Redis = node_of(key).redis_connection
        return server

    def _hgetall_many(self, keys: list[str]) -> list[dict[bytes, bytes]]:
        """HGETALL of each key in one pipeline (not a transaction), in the order given. A key
        that holds something else than a hash reads as absent, and is logged: one bad key does
        not make the others unreadable."""
        if not keys:
            return []
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        replies: list[dict[bytes, bytes]] = []
        for key, reply in zip(keys, pipe.execute(raise_on_error=False), strict=True):
            if not isinstance(reply, Exception):
                replies.append(reply)
                continue
            if not is_wrong_type(reply):
                raise reply
            logger.warning("%s; read as absent", self._wrong_type(key, "a hash"))
            replies.append({})
        return replies

    def _wrong_type(self, key: str, wanted: str) -> str:
        """Says that ``key`` holds another type than ``wanted``, and what to do."""
        found = codec.text(self._client.type(key))
        return f"the key {key} holds a {found}, not {wanted}: inspect it, then delete or rename it"
