"""Stores for tests: private ``memory://`` stores, and one store per test from a URL.

:func:`isolated_stores` gives a block (a test) its own ``memory://`` stores, so that a
``Queue(connection="memory://")`` deep in the code under test sees that test's jobs only.
:func:`open_store` opens the store a test runs on: the in-memory one (the default), a fakeredis
server of its own, or a real Redis server, where the test's keys live under a key prefix of the
session's and are deleted after the test: nothing else in that database is read, changed or
flushed.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit

import redis

from jq.broker import Broker
from jq.exceptions import ConfigurationError
from jq.io.connections import fresh_url_brokers
from jq_backends.memory import MemoryBroker

__all__ = [
    "REDIS_SCHEMES",
    "TEST_URL_ENV",
    "check_store_url",
    "delete_prefixed_keys",
    "isolated_stores",
    "open_store",
    "random_key_prefix",
]

#: The environment variable naming the store of the plugin's ``jq_broker`` (``--jq-url`` wins).
TEST_URL_ENV = "JQ_TEST_URL"
#: URL schemes of a real Redis server (one, a Sentinel-managed master, or a cluster).
REDIS_SCHEMES = frozenset(
    {"redis", "rediss", "unix", "redis+sentinel", "rediss+sentinel", "redis+cluster", "rediss+cluster"}
)
_SCHEMES = REDIS_SCHEMES | {"memory", "fakeredis"}
# Keys deleted per UNLINK when a test's keys are cleaned up.
_DELETE_BATCH = 500


def check_store_url(url: str) -> str:
    """``url`` if it names a store tests can run on, else :class:`ConfigurationError` saying which
    ones do."""
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if scheme not in _SCHEMES:
        raise ConfigurationError(
            f"{url!r} is not a store jq's tests can run on: use memory:// (the default), fakeredis:// "
            "(fakeredis with Lua, in this process), or a real server's redis://host:port/db, "
            "rediss://..., unix:///path.sock, redis+sentinel://... or redis+cluster://..."
        )
    return url


def random_key_prefix() -> str:
    """A key prefix no one else uses: ``{jqtest-<16 hex digits>}:``, a hash tag, so that it serves on
    a Redis Cluster too (where every key of a broker must share one slot)."""
    return f"{{jqtest-{secrets.token_hex(8)}}}:"


@contextlib.contextmanager
def isolated_stores(default: MemoryBroker | None = None) -> Iterator[MemoryBroker]:
    """Within the block, ``memory://`` URLs name stores of the block's own, forgotten at its end,
    and URLs resolve to brokers made in the block. Yields the store ``memory://`` names
    (``default``, or a new empty one)."""
    store = MemoryBroker("default") if default is None else default
    with MemoryBroker.isolated_names({"default": store}), fresh_url_brokers():
        yield store


def delete_prefixed_keys(client: redis.Redis | redis.RedisCluster, prefix: str) -> int:
    """Delete every key of ``client``'s database whose name starts with ``prefix``; how many (on
    a cluster, of every master).

    Only keys under that prefix are touched: the rest of the database is neither read nor
    changed.
    """
    if not prefix or any(char in prefix for char in "*?[]\\"):
        raise ConfigurationError(f"refusing to delete keys under the prefix {prefix!r}: it must be literal")
    deleted = 0
    batch: list[bytes] = []
    for key in client.scan_iter(match=f"{prefix}*", count=_DELETE_BATCH):
        batch.append(key)
        if len(batch) >= _DELETE_BATCH:
            deleted += int(client.unlink(*batch))
            batch.clear()
    if batch:
        deleted += int(client.unlink(*batch))
    return deleted


@contextlib.contextmanager
def open_store(url: str, *, key_prefix: str) -> Iterator[Broker]:
    """The store of one test, for ``url`` (see :func:`check_store_url`), closed afterwards.

    ``memory://``: the store ``memory://`` names now (inside :func:`isolated_stores`, the
    block's). ``fakeredis://``: a fakeredis server of the test's own. A Redis URL: that server
    and database, every key under ``key_prefix``; the keys under it are deleted before the test
    and after it, and no other key is touched.
    """
    scheme = urlsplit(check_store_url(url)).scheme.lower()
    if scheme == "memory":
        yield MemoryBroker.named("default")
        return
    # lazy: a memory:// store does not import redis-py (the plugin's sessions that need no Redis)
    from jq_backends.redis import RedisBroker

    if scheme == "fakeredis":
        try:
            # lazy: fakeredis is an optional dependency (jq-queue[testing])
            import fakeredis
        except ImportError:
            raise ConfigurationError(
                "the fakeredis:// store needs fakeredis with Lua: pip install 'jq-queue[testing]'"
            ) from None
        broker = RedisBroker(fakeredis.FakeRedis(server=fakeredis.FakeServer()))
        try:
            yield broker
        finally:
            broker.close()
        return
    broker = RedisBroker.from_url(url, prefix=key_prefix)
    try:
        try:
            delete_prefixed_keys(broker.connection, key_prefix)
        except broker.transient_errors as exc:
            raise ConfigurationError(f"jq's tests cannot reach the store {broker.url}: {exc}") from exc
        try:
            yield broker
        finally:
            delete_prefixed_keys(broker.connection, key_prefix)
    finally:
        broker.close()
