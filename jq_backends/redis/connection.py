"""What the Redis driver needs to know about a redis-py client: its URL, kind and settings."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any, Final

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.connection import SSLConnection, UnixDomainSocketConnection
from redis.sentinel import SentinelConnectionPool

from jq.exceptions import ConfigurationError

__all__ = [
    "FAKEREDIS_LUA_HINT",
    "Client",
    "binary_twin",
    "check_fake_lua",
    "client_url",
    "clone_client",
    "connection_settings",
    "decodes_responses",
    "is_cluster",
    "is_fake",
    "parse_hosts",
    "redact_url",
    "socket_timeout",
]

#: What the driver talks through: a client of one server (maybe found through Sentinel), or of a
#: Redis Cluster.
Client = redis.Redis | RedisCluster

# Pool settings redis-py (and fakeredis) add to ``connection_kwargs`` themselves; a new pool builds
# its own, and sharing one pool's handler objects with another would tie their connections.
_POOL_OWNED: Final = frozenset(
    {
        "himport_registry",
        "maint_notifications_config",
        "maint_notifications_pool_handler",
        "orig_host_address",
        "orig_socket_connect_timeout",
        "orig_socket_timeout",
    }
)

# Connection settings a cluster client adds itself (its connection callback, its handlers).
_CLUSTER_OWNED: Final = (
    frozenset({"redis_connect_func", "oss_cluster_maint_notifications_handler"}) | _POOL_OWNED
)

# Query arguments that carry a secret: the password, and the one unlocking a TLS private key.
_SECRET_QUERY_KEYS: Final = frozenset({"password", "ssl_password"})
_HIDDEN: Final = "***"


def is_fake(client: object) -> bool:
    """Whether ``client`` is a fakeredis client, whose server lives inside this process."""
    return type(client).__module__.startswith("fakeredis")


#: What to install when a fakeredis client cannot run Lua scripts.
FAKEREDIS_LUA_HINT: Final = "pip install 'fakeredis[lua]' (or pip install 'jq-queue[fakeredis]')"


def check_fake_lua(client: redis.Redis) -> None:
    """Refuse a fakeredis client whose fake server cannot run Lua scripts.

    Every state change of the Redis driver is a Lua script. fakeredis runs them only when the
    ``lupa`` package is installed (its ``[lua]`` extra), and without it answers every script with
    ``unknown command 'evalsha'``: better one error that says what to install when the broker is
    made than that one at the first enqueue. One ``EVAL`` on the fake server, in this process.
    """
    if not is_fake(client):
        return
    try:
        client.eval("return 1", 0)
    except redis.ConnectionError:
        return  # a fake server set to be unreachable: its first real command says so
    except redis.ResponseError as exc:
        if "unknown command" not in str(exc).lower():
            raise
        raise ConfigurationError(
            "this fakeredis client cannot run Lua scripts, and jq's Redis driver runs one for every "
            f"state change: fakeredis runs them with the lupa package; install it with {FAKEREDIS_LUA_HINT}"
        ) from None


def is_cluster(client: object) -> bool:
    """Whether ``client`` is a redis-py Redis Cluster client."""
    return isinstance(client, RedisCluster)


def connection_settings(client: Client) -> dict[str, Any]:
    """The keyword settings each connection of ``client`` is made with (its pool's, or for a
    cluster client those of the connections to every node)."""
    if isinstance(client, RedisCluster):
        return dict(client.nodes_manager.connection_kwargs)
    return dict(client.connection_pool.connection_kwargs)


def decodes_responses(client: Client) -> bool:
    """Whether the client turns replies into ``str`` (``decode_responses=True``)."""
    return bool(connection_settings(client).get("decode_responses", False))


def socket_timeout(client: Client) -> float | None:
    """The client's socket (read) timeout in seconds, or None when it waits forever."""
    value = connection_settings(client).get("socket_timeout")
    return None if value is None else float(value)


def _clone_cluster(client: RedisCluster, overrides: dict[str, Any]) -> RedisCluster:
    # The nodes it knows now are where the new client starts; redis-py adds its own handlers.
    kwargs = {key: value for key, value in connection_settings(client).items() if key not in _CLUSTER_OWNED}
    kwargs.update(overrides)
    # (untyped in redis-py: called through typed names)
    node: Callable[[str, int], ClusterNode] = ClusterNode
    known: Callable[[], list[ClusterNode]] = client.get_nodes
    return RedisCluster(
        startup_nodes=[node(known_node.host, known_node.port) for known_node in known()], **kwargs
    )


def clone_client(client: Client, *, connection_class: type[Any] | None = None, **overrides: Any) -> Client:
    """A new client with ``client``'s connection settings, changed by ``overrides``.

    It has a connection pool of its own (of ``connection_class`` when given), which the caller
    owns and closes. A fakeredis client's clone talks to the same fake server; a cluster
    client's, to the same cluster.
    """
    if isinstance(client, RedisCluster):
        return _clone_cluster(client, overrides)
    pool = client.connection_pool
    kwargs = {key: value for key, value in pool.connection_kwargs.items() if key not in _POOL_OWNED}
    kwargs.update(overrides)
    new_pool = type(pool)(
        connection_class=connection_class or pool.connection_class,
        max_connections=pool.max_connections,
        **kwargs,
    )
    return redis.Redis(connection_pool=new_pool)


def binary_twin(client: Client) -> Client:
    """A clone of ``client`` with ``decode_responses=False``: job data is binary, and a pool's
    connections either all decode or all do not."""
    return clone_client(client, decode_responses=False)


def redact_url(url: str) -> str:
    """``url`` with any password (in the user part, or a ``password=`` or ``ssl_password=`` query)
    replaced by ``***``."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:{_HIDDEN}@{hostport}"
    query = parts.query
    if query:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        query = urllib.parse.urlencode(
            [(key, _HIDDEN if key.lower() in _SECRET_QUERY_KEYS else value) for key, value in pairs],
            safe="*/",  # the TLS options hold file paths: keep them readable
        )
    # Not urlunsplit: it turns an empty host (unix:///path) into unix:/path.
    text = f"{parts.scheme}://{netloc}{parts.path}"
    if query:
        text += f"?{query}"
    if parts.fragment:
        text += f"#{parts.fragment}"
    return text


def client_url(client: Client) -> str:
    """A password-free URL naming the server and database a client talks to.

    A client of a Sentinel-managed master (``Sentinel.master_for``) has no fixed server: its URL
    names the sentinels, the master's name and the database, in the ``redis+sentinel://`` form
    (``redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster/2``). A Redis Cluster client's
    names the masters it knows: ``redis+cluster://10.0.0.1:6379,10.0.0.2:6379``.
    """
    if isinstance(client, RedisCluster):
        return _cluster_url(client)
    pool = client.connection_pool
    kwargs = pool.connection_kwargs
    db = kwargs.get("db", 0)
    if is_fake(client):
        return f"fakeredis:///{db}"
    if isinstance(pool, SentinelConnectionPool):
        return _sentinel_url(pool, db)
    if issubclass(pool.connection_class, UnixDomainSocketConnection):
        return f"unix://{kwargs.get('path', '')}?db={db}"
    scheme = "rediss" if issubclass(pool.connection_class, SSLConnection) else "redis"
    username = kwargs.get("username")
    user = f"{urllib.parse.quote(str(username), safe='')}@" if username else ""
    host = str(kwargs.get("host", "localhost"))
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"{scheme}://{user}{host}:{kwargs.get('port', 6379)}/{db}"


def _sentinel_url(pool: SentinelConnectionPool, db: object) -> str:
    # Its connection_kwargs hold no host: the sentinels name the master at each connection.
    scheme = "rediss+sentinel" if issubclass(pool.connection_class, SSLConnection) else "redis+sentinel"
    username = pool.connection_kwargs.get("username")
    user = f"{urllib.parse.quote(str(username), safe='')}@" if username else ""
    sentinels = []
    for sentinel in pool.sentinel_manager.sentinels:
        options = sentinel.connection_pool.connection_kwargs
        host = str(options.get("host", "localhost"))
        sentinels.append(
            f"[{host}]:{options.get('port', 26379)}"
            if ":" in host
            else f"{host}:{options.get('port', 26379)}"
        )
    service = urllib.parse.quote(str(pool.service_name), safe="")
    return f"{scheme}://{user}{','.join(sentinels)}/{service}/{db}"


# Names of this machine's loopback interface, taken as one host when comparing servers.
_LOOPBACK: Final = frozenset({"localhost", "127.0.0.1", "::1"})


def same_server(first: Client, second: Client) -> bool:
    """Whether two redis-py clients reach the same data: one server (or cluster) and database,
    whatever their options (timeouts, pools, user, TLS). Fakeredis clients do when they share
    their fake server; two cluster clients when they know a node in common."""
    if isinstance(first, RedisCluster) or isinstance(second, RedisCluster):
        if not (isinstance(first, RedisCluster) and isinstance(second, RedisCluster)):
            return False
        return bool(_cluster_nodes(first) & _cluster_nodes(second))
    return _server_of(first) == _server_of(second)


def _server_of(client: redis.Redis) -> tuple[object, ...]:
    """What names a client's server and database (see :func:`same_server`)."""
    pool = client.connection_pool
    kwargs = pool.connection_kwargs
    db = int(kwargs.get("db") or 0)
    if is_fake(client):
        # Its fake server, by identity: fakeredis makes up a host for a client given a server.
        return ("fake", id(kwargs.get("server")), db)
    if isinstance(pool, SentinelConnectionPool):
        return ("sentinel", _sentinel_url(pool, db))
    if issubclass(pool.connection_class, UnixDomainSocketConnection):
        return ("unix", str(kwargs.get("path", "")), db)
    host = str(kwargs.get("host", "localhost"))
    return ("tcp", "loopback" if host in _LOOPBACK else host.lower(), int(kwargs.get("port", 6379)), db)


def _cluster_nodes(client: RedisCluster) -> set[tuple[str, int]]:
    """The addresses of the cluster's nodes a cluster client knows (no I/O)."""
    nodes: Callable[[], list[ClusterNode]] = client.get_nodes
    return {("loopback" if node.host in _LOOPBACK else str(node.host), int(node.port)) for node in nodes()}


def _cluster_url(client: RedisCluster) -> str:
    kwargs = client.nodes_manager.connection_kwargs
    scheme = (
        "rediss+cluster"
        if kwargs.get("ssl") or kwargs.get("connection_class") is SSLConnection
        else "redis+cluster"
    )
    username = kwargs.get("username")
    user = f"{urllib.parse.quote(str(username), safe='')}@" if username else ""
    # The masters it knows now (no I/O; untyped in redis-py: called through a typed name).
    primaries: Callable[[], list[ClusterNode]] = client.get_primaries
    nodes = sorted((str(node.host), int(node.port)) for node in primaries())
    hosts = ",".join(f"[{host}]:{port}" if ":" in host else f"{host}:{port}" for host, port in nodes)
    return f"{scheme}://{user}{hosts}"


def parse_hosts(text: str, what: str, default_port: int, form: str) -> list[tuple[str, int]]:
    """The (host, port) pairs of a URL's comma-separated list of addresses; a
    :class:`ConfigurationError` naming ``what`` (a node, a sentinel) and the URL's ``form``."""
    hosts = []
    for part in text.split(","):
        try:
            parts = urllib.parse.urlsplit(f"//{part}")
            host, port = parts.hostname, parts.port
        except ValueError as exc:
            raise ConfigurationError(f"the {what} address {part!r} in the URL is not valid: {exc}") from None
        if not host:
            raise ConfigurationError(f"the {what} address {part!r} in the URL names no host: use {form}")
        hosts.append((host, default_port if port is None else port))
    return hosts
