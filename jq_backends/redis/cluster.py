"""Redis Cluster: ``redis+cluster://`` URLs, and the key prefix a cluster needs.

``redis+cluster://[[user]:password@]host:port[,host:port...][/0][?option=value...]``
(``rediss+cluster://`` for TLS) names some nodes of the cluster (redis-py learns the others from
them) and the connection options of every node, as in a ``redis://`` URL. A cluster has one
database, 0.

On a cluster, a script runs on the node that serves its keys' slot and may only touch keys of
that slot. jq's state changes are scripts that touch a job's record with its queue, its
registries, its dependents' records, the set of known queues, rate-limit and group keys: so on a
cluster every key of a broker lives in one slot, the slot of the hash tag in its prefix (``{jq}:``
unless you give another, such as ``{myapp}:``). Every feature then works on a cluster exactly as
on one server, each operation as atomic, with the cluster's failover and its redirections
(``MOVED``, ``ASK`` during a slot migration) handled by redis-py's cluster client and the
request identities (under ``wait_replicas``, each write and its ``WAIT`` go to the slot's master
together, and :mod:`.cluster_wait` follows the redirections itself). What it does not do is
spread one prefix's load over several masters: see docs/brokers.md for what runs where and for
the planned layout by queue.
"""

from __future__ import annotations

import inspect
import re
import urllib.parse
from collections.abc import Callable
from typing import Any, Final

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.connection import Connection, SSLConnection, parse_url
from redis.exceptions import (
    ClusterDownError,
    NoPermissionError,
    RedisClusterException,
    SlotNotCoveredError,
    TryAgainError,
)

from jq.exceptions import ConfigurationError, StorePermissionError
from jq.io.connections import KEY_PREFIX_ENV, key_prefix
from jq_backends.keys import DEFAULT_PREFIX
from jq_backends.redis.connection import is_cluster, parse_hosts
from jq_backends.redis.options import accepted_options, read_booleans, unknown_option_message

__all__ = [
    "CLUSTER_SCHEMES",
    "CLUSTER_TRANSIENT_ERRORS",
    "DEFAULT_CLUSTER_PREFIX",
    "MIN_REDIS_PY",
    "broker_prefix",
    "check_cluster_client",
    "check_cluster_prefix",
    "cluster_client",
    "hash_tag",
]

#: URL schemes of a Redis Cluster: plain and TLS.
CLUSTER_SCHEMES: Final = frozenset({"redis+cluster", "rediss+cluster"})
#: What a cluster client raises while the cluster moves (a failover, a slot migration) once its
#: own retries are spent: the cluster is down or a slot has no master for a moment (CLUSTERDOWN),
#: a multi-key command met a slot being migrated (TRYAGAIN), a slot no node it knows serves.
#: Transient: the caller tries again, and a state change re-sent applies once.
CLUSTER_TRANSIENT_ERRORS: Final = (ClusterDownError, TryAgainError, SlotNotCoveredError)
#: The key prefix on a cluster unless one is given: ``jq:`` in one hash tag.
DEFAULT_CLUSTER_PREFIX: Final = "{jq}:"
#: The oldest redis-py jq runs on a cluster with: its cluster client runs transactions (MULTI/EXEC
#: on keys of one slot, which the driver uses to save a job's record in one step) from 6.1, and
#: from 6.3 without a DeprecationWarning of its own on every EXISTS and DEL. The oldest tested.
MIN_REDIS_PY: Final = (6, 3)
#: The port of a node named without one.
DEFAULT_PORT: Final = 6379

_FORM: Final = "redis+cluster://[user:password@]host:port[,host:port...]"


def hash_tag(prefix: str) -> str | None:
    """The hash tag of ``prefix`` as Redis Cluster reads it (the text between the first ``{`` and
    the first ``}`` after it, when not empty), or None."""
    opening = prefix.find("{")
    if opening == -1:
        return None
    closing = prefix.find("}", opening + 1)
    if closing == -1 or closing == opening + 1:
        return None
    return prefix[opening + 1 : closing]


def check_cluster_prefix(prefix: str, source: str = "key prefix") -> None:
    """A :class:`ConfigurationError` when ``prefix`` holds no hash tag (see the module's docstring);
    ``source`` names where it came from (``JQ_KEY_PREFIX``)."""
    if hash_tag(prefix) is None:
        tagged = f"{{{prefix.rstrip(':')}}}:"
        raise ConfigurationError(
            f"on Redis Cluster the {source} must hold a hash tag, such as {tagged!r} rather than "
            f"{prefix!r}: jq's scripts touch many keys at once, which must share one slot (leave the "
            "prefix out for '{jq}:')"
        )


def check_cluster_client(version: str = redis.__version__) -> None:
    """A :class:`ConfigurationError` when the installed redis-py is older than :data:`MIN_REDIS_PY`."""
    numbers = tuple(int(part) for part in re.findall(r"\d+", version)[:2])
    if numbers < MIN_REDIS_PY:
        wanted = ".".join(map(str, MIN_REDIS_PY))
        raise ConfigurationError(
            f"jq on Redis Cluster needs redis-py {wanted} or later, whose cluster client runs "
            f"transactions, and redis-py {version} is installed: pip install 'redis>={wanted}'"
        )


def broker_prefix(client: object, prefix: str | None) -> str:
    """The key prefix a broker on ``client`` stores under: ``prefix``, else ``JQ_KEY_PREFIX``, else
    ``jq:`` — or ``{jq}:`` on a cluster, where it must hold a hash tag (checked here)."""
    if not is_cluster(client):
        return key_prefix(prefix, DEFAULT_PREFIX)
    check_cluster_client()
    chosen = key_prefix(prefix, DEFAULT_CLUSTER_PREFIX)
    from_environment = prefix is None and chosen != DEFAULT_CLUSTER_PREFIX
    check_cluster_prefix(chosen, KEY_PREFIX_ENV if from_environment else "key prefix")
    return chosen


def cluster_client(url: str, **options: Any) -> RedisCluster:
    """A Redis Cluster client for a ``redis+cluster://`` URL; ``options`` are connection options
    (they win over the URL's). redis-py's cluster client asks the nodes for the cluster's layout
    as it is made: a cluster none of whose nodes answers is a ``redis.ConnectionError`` here."""
    scheme, _, rest = url.partition("://")
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    if not at:
        userinfo, hosts = "", netloc
    if not hosts:
        raise ConfigurationError(f"the cluster URL names no node: use {_FORM}")
    nodes = parse_hosts(hosts, "node", DEFAULT_PORT, _FORM)
    database = urllib.parse.unquote(path.strip("/"))
    if database not in ("", "0"):
        raise ConfigurationError(f"a Redis Cluster has only database 0, and the URL asks for {database!r}")
    base = "rediss" if scheme.lower() == "rediss+cluster" else "redis"
    auth = f"{userinfo}@" if userinfo else ""
    # redis-py's own URL parser reads each option's type, as for any Redis URL.
    parse: Callable[[str], dict[str, Any]] = parse_url  # (untyped in redis-py)
    try:
        settings = parse(f"{base}://{auth}cluster/0?{query}" if query else f"{base}://{auth}cluster/0")
    except ValueError as exc:
        raise ConfigurationError(f"the cluster URL is not valid: {exc}") from None
    for name in ("host", "port", "db"):
        settings.pop(name, None)
    if settings.pop("connection_class", None) is SSLConnection:
        settings["ssl"] = True
    settings.update(options)
    read_booleans(settings)
    _check_options(settings)
    node: Callable[[str, int], ClusterNode] = ClusterNode  # (untyped in redis-py)
    try:
        return RedisCluster(startup_nodes=[node(host, port) for host, port in nodes], **settings)
    except RedisClusterException as error:
        if _refused_permission(error):
            # redis-py words a NOPERM reply to CLUSTER SLOTS "Cluster mode is not enabled".
            user = settings.get("username") or "default"
            raise StorePermissionError(
                f"the Redis user {user!r} may not run CLUSTER SLOTS, which a cluster client needs to "
                f"learn which node serves which slot: grant it on every node with ACL SETUSER {user} "
                "+cluster|slots (see docs/security.md)"
            ) from error
        # Not a redis.RedisError: say it as the connection error it is.
        raise redis.ConnectionError(f"no node of the Redis Cluster answered ({error})") from error


def _refused_permission(error: BaseException) -> bool:
    """Whether a NOPERM reply is among the causes of ``error`` (redis-py chains them)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, NoPermissionError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _check_options(settings: dict[str, Any]) -> None:
    """A :class:`ConfigurationError` for an option a node's connection does not take (redis-py
    would raise a ``TypeError`` at the first connection)."""
    connection_class = SSLConnection if settings.get("ssl") else Connection
    taken = accepted_options(connection_class)
    if taken is None:
        return
    # The cluster client's own settings (read_from_replicas=...), beside the connections'.
    cluster = set(inspect.signature(RedisCluster.__init__).parameters) - {"self", "kwargs"}
    for name in settings:
        if name not in taken and name not in cluster and name != "ssl":
            raise ConfigurationError(unknown_option_message(name, connection_class, taken))
