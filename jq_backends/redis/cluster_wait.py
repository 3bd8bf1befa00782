"""A write and its ``WAIT`` on Redis Cluster: both on one connection of the slot's master.

``WAIT`` covers what its own connection did before it. A cluster client borrows a connection from
the node's pool for each call and gives it back after, so a script and a ``WAIT`` sent as two
calls may run on two connections when another thread of the process (a worker's heartbeat, a
web server's threads) borrows one between them: the ``WAIT`` then runs on a connection idle since
before the write, and returns at once with every replica counted, confirming a write no replica
has.

:func:`script_and_wait` sends them together instead, as one non-transactional pipeline on the
client of the node that serves the script's first key (one round trip, one connection), and does
itself what the cluster client does for a call it sends:

* ``MOVED`` (the slot has another master: a resharding ended, a failover): the slot map is read
  again and the pair sent to the new master. Nothing was written: the script was refused.
* ``ASK`` (the slot is migrating and the keys are gone from here): the pair is sent to the node
  named, after ``ASKING`` on the same connection.
* ``TRYAGAIN`` (a migration has split the script's keys between the two nodes): sent again, after
  a short pause once half the attempts are spent.
* ``CLUSTERDOWN``, a lost connection, a slot the map gives no master: the slot map is read again
  and the error raised, for the caller's repeat (which carries the call's request identity, so
  it applies once).

A call redirected :data:`ATTEMPTS` times (as many as redis-py's cluster client follows) raises a
:class:`~jq_backends.redis.failover.MasterChangedError`, a connection error: the caller tries again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Final

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MovedError,
    RedisClusterException,
    SlotNotCoveredError,
    TryAgainError,
)

from jq_backends.redis.failover import MasterChangedError

__all__ = ["ATTEMPTS", "TRYAGAIN_PAUSE", "refresh_slot_map", "script_and_wait"]

logger = logging.getLogger("jq.broker.redis")

#: Sends of one call, redirections and ``TRYAGAIN`` included (redis-py's cluster client follows
#: as many: ``RedisClusterRequestTTL``).
ATTEMPTS: Final = 16
#: Seconds between two sends answered ``TRYAGAIN`` once half the attempts are spent (as redis-py).
TRYAGAIN_PAUSE: Final = 0.05


def refresh_slot_map(client: RedisCluster) -> None:
    """Read the cluster's slot map again into ``client`` (which node serves which slot).

    Private to redis-py: ``nodes_manager.initialize()``. No public call of the cluster client
    refreshes its map; its own calls do so, on a ``MOVED`` among others, inside their retry loop,
    which a pipeline sent to one node does not go through. ``initialize()`` has taken no argument
    from redis-py 4.1 to 8.x, and is what the cluster client itself calls on ``CLUSTERDOWN``.
    ``tests/test_redis_cluster.py`` (``test_the_slot_map_is_read_again_after_a_migration``) fails
    if it goes away or stops reading the map. A refresh that fails (no node answers) is left to
    the next call: the error the caller raises says what went wrong.
    """
    # (untyped in redis-py: called through a typed name)
    initialize: Callable[[], None] = client.nodes_manager.initialize
    try:
        initialize()
    except (redis.RedisError, RedisClusterException) as error:
        logger.debug("the cluster's slot map could not be read again: %s", error)


def _send_pair(
    client: RedisCluster, node: ClusterNode, first: tuple[Any, ...], wait: tuple[Any, ...], *, asking: bool
) -> tuple[Any, Any]:
    """``first`` then ``wait`` on one connection of ``node`` (``ASKING`` before them when
    ``asking``), in one round trip; each reply, an error reply as its exception."""
    # get_redis_connection: the node's own client (made if need be), whose pool the cluster
    # client's calls to that node use too.
    with client.get_redis_connection(node).pipeline(transaction=False) as pipe:
        queue: Callable[..., Any] = pipe.execute_command
        if asking:
            queue("ASKING")
        queue(*first)
        queue(*wait)
        replies = pipe.execute(raise_on_error=False)
    return replies[-2], replies[-1]


def _ask_target(client: RedisCluster, error: AskError, origin: ClusterNode) -> ClusterNode | None:
    """The node an ``ASK`` names, when the client knows it (None: not yet in its map)."""
    host = error.host or origin.host  # a node that does not know its own address names only the port
    # (untyped in redis-py: called through a typed name)
    find: Callable[..., ClusterNode | None] = client.get_node
    return find(host=host, port=error.port)


def script_and_wait(
    client: RedisCluster, first: tuple[Any, ...], wait: tuple[Any, ...], key: str
) -> tuple[Any, Any]:
    """The replies to ``first`` (a script call whose first key is ``key``) and to ``wait``, sent
    together on one connection of the master of ``key``'s slot; see the module's docstring.

    An error reply of the script other than a redirection comes back as its exception (as the
    pipeline of one server returns it); so does ``TRYAGAIN`` once the attempts are spent, and
    ``CLUSTERDOWN``. A lost connection raises.
    """
    # (untyped in redis-py: called through a typed name)
    node_of: Callable[[str], ClusterNode] = client.get_node_from_key
    redirected: Exception | None = None
    for attempt in range(ATTEMPTS):
        try:
            node = node_of(key)
        except SlotNotCoveredError:
            refresh_slot_map(client)  # the map has no master for the slot: ask the cluster again
            raise
        try:
            reply, confirmed = _send_pair(client, node, first, wait, asking=False)
            if isinstance(reply, AskError) and not isinstance(reply, MovedError):
                target = _ask_target(client, reply, node)
                if target is not None:
                    reply, confirmed = _send_pair(client, target, first, wait, asking=True)
        except (redis.ConnectionError, redis.TimeoutError):
            # The node may be gone (a failover): the next call asks the cluster where the slot is.
            refresh_slot_map(client)
            raise
        if isinstance(reply, AskError):  # MOVED (a subclass), or an ASK to a node not yet known
            refresh_slot_map(client)
        elif isinstance(reply, TryAgainError):
            if attempt >= ATTEMPTS // 2:
                time.sleep(TRYAGAIN_PAUSE)
        else:
            if isinstance(reply, ClusterDownError):
                refresh_slot_map(client)
            return reply, confirmed
        redirected = reply
    if isinstance(redirected, TryAgainError):
        return redirected, None
    raise MasterChangedError(
        f"the cluster redirected a write {ATTEMPTS} times ({redirected}): its slot is moving, so "
        "the driver reads the slot map again and the call is sent again"
    ) from redirected
