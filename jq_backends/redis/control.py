"""The Redis driver's control of workers: a suspension key, locks, and commands over pub/sub."""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, cast

import redis
from redis.client import PubSub

from jq.base.threads import start_background_thread
from jq.broker import CommandSubscription, ControlStore
from jq_backends.redis import codec
from jq_backends.redis._base import RedisState
from jq_backends.redis.scripts import Arg, refused_writes

__all__ = ["RedisCommandSubscription", "RedisControl"]

logger = logging.getLogger("jq.broker.redis")

# How long the listener thread blocks for a message: also how long close() may wait for it.
_LISTEN_SLICE = 0.25
_MAX_BACKOFF = 2.0
_SUBSCRIBE_TIMEOUT = 10.0


class RedisCommandSubscription:
    """A pub/sub subscription to one worker's command channel, served by a listener thread.

    redis-py's pub/sub reconnects and subscribes again on the next read after a lost connection;
    the listener only waits (with a capped back-off) between failed reads. On a Redis Cluster the
    subscription is on the master of the channel's slot, which a failover replaces: after a
    failed read the listener subscribes afresh, on the master the cluster names now. A slot
    migration leaves the old master up: the listener subscribes afresh as soon as the client's
    slot map (read again at the worker's next MOVED) names another master for the channel, so
    that commands are counted where they are published (a node counts only its own subscribers).
    """

    def __init__(
        self, client: redis.Redis, channel: str, handler: Callable[[bytes], None], *, cluster: bool = False
    ) -> None:
        self._channel = channel
        self._handler = handler
        self._closed = threading.Event()
        # Redis.pubsub had no annotations before redis-py 8.2: called through a typed name.
        self._make_pubsub: Callable[[], PubSub] = client.pubsub
        self._cluster = cluster
        # On a cluster: the node serving the channel's slot in the client's map (no I/O).
        self._node_of: Callable[[str], Any] | None = (
            client.get_node_from_key  # type: ignore[attr-defined]
            if cluster
            else None
        )
        self._pubsub = self._subscribed()
        self._wait_for_confirmation()
        self._thread = start_background_thread(self._listen, f"jq-commands-{channel}")

    def _subscribed(self) -> PubSub:
        pubsub = self._make_pubsub()
        pubsub.subscribe(**{self._channel: self._on_message})
        return pubsub

    def _subscribe_afresh(self) -> None:
        """A new subscription in place of one whose node may be gone (on a cluster)."""
        old, self._pubsub = self._pubsub, self._subscribed()
        with contextlib.suppress(Exception):
            old.close()

    def _wait_for_confirmation(self) -> None:
        # Commands published before the server confirmed the subscription would be lost.
        deadline = time.monotonic() + _SUBSCRIBE_TIMEOUT
        while time.monotonic() < deadline:
            message = self._pubsub.get_message(timeout=_LISTEN_SLICE)
            if message is not None and message.get("type") == "subscribe":
                return
        raise redis.TimeoutError(f"the server did not confirm the subscription to {self._channel}")

    def _listen(self) -> None:
        failures = 0
        while not self._closed.is_set():
            try:
                self._pubsub.get_message(timeout=_LISTEN_SLICE)
                if failures:
                    logger.warning("listening to %s again", self._channel)
                failures = 0
                if self._slot_moved():
                    self._subscribe_afresh()
            except Exception as error:
                if self._closed.is_set():
                    break
                failures += 1
                if failures == 1:
                    logger.warning("lost %s (%s); listening again when Redis is back", self._channel, error)
                self._closed.wait(min(0.1 * 2**failures, _MAX_BACKOFF))
                if self._cluster and not self._closed.is_set():
                    with contextlib.suppress(Exception):  # the next read says whether it worked
                        self._subscribe_afresh()
        with contextlib.suppress(Exception):
            self._pubsub.close()

    def _slot_moved(self) -> bool:
        """On a cluster: whether the client's slot map names another master for the channel than
        the one the subscription is on (the slot migrated)."""
        if self._node_of is None:
            return False
        node_of_pubsub: Callable[[], Any] = self._pubsub.get_pubsub_node  # type: ignore[attr-defined]
        subscribed = node_of_pubsub()
        try:
            serving = self._node_of(self._channel)
        except Exception:  # no master for the slot in the map (a failover): a failed read tells
            return False
        return subscribed is not None and subscribed.name != serving.name

    def _on_message(self, message: dict[str, Any]) -> None:
        if self._closed.is_set():
            return
        try:
            self._handler(bytes(message["data"]))
        except Exception:
            logger.exception("a command handler on %s failed", self._channel)

    def close(self) -> None:
        """Stop delivering now, and end the listener thread (its blocked read is cut short)."""
        self._closed.set()
        connection = self._pubsub.connection
        if connection is not None:
            # Disconnecting wakes the listener's blocking read at once.
            with contextlib.suppress(Exception):
                connection.disconnect()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=_LISTEN_SLICE * 4)


class RedisControl(RedisState, ControlStore):
    """Suspension and locks as (maybe expiring) keys; commands as PUBLISH on a per-worker channel."""

    def suspend(self, duration: float | None = None) -> None:
        """SET the suspension key, expiring after ``duration`` seconds when given (under
        ``wait_replicas``: ``lua/suspend.lua``, which waits)."""
        if self._waits:
            self._scripts(
                "suspend", [self._keys.suspended], ["" if duration is None else codec.milliseconds(duration)]
            )
            return
        with refused_writes("suspending workers"):
            if duration is None:
                self._client.set(self._keys.suspended, b"1")
            else:
                self._client.set(self._keys.suspended, b"1", px=codec.milliseconds(duration))

    def resume(self) -> None:
        """DEL the suspension key (under ``wait_replicas``: ``lua/suspend.lua``, which waits)."""
        if self._waits:
            self._scripts("suspend", [self._keys.suspended], ["resume"])
            return
        self._client.delete(self._keys.suspended)

    def is_suspended(self) -> bool:
        """EXISTS the suspension key."""
        return bool(self._client.exists(self._keys.suspended))

    def suspension_remaining(self) -> float | None:
        """PTTL of the suspension key: -2 (no key) is None, -1 (no expiry) is ``math.inf``."""
        remaining = int(self._client.pttl(self._keys.suspended))
        if remaining == -2:
            return None
        return math.inf if remaining < 0 else remaining / 1000

    def acquire_lock(self, name: str, token: str, ttl: float) -> bool:
        """SET the lock's key to ``token`` with NX and PX: taken only when nobody holds it (under
        ``wait_replicas``: ``lua/acquire_lock.lua``, which waits, and whose repeat gets its
        first reply)."""
        if self._waits:
            args: list[Arg] = [token, codec.milliseconds(ttl)]
            return bool(self._scripts("acquire_lock", [self._keys.lock(name)], args))
        return bool(self._client.set(self._keys.lock(name), token, nx=True, px=codec.milliseconds(ttl)))

    def extend_lock(self, name: str, token: str, ttl: float) -> bool:
        """Compare the holder with ``token`` and extend the expiry (one script)."""
        args: list[Arg] = [token, codec.milliseconds(ttl)]
        return bool(self._scripts("extend_lock", [self._keys.lock(name)], args))

    def release_lock(self, name: str, token: str) -> bool:
        """Compare the holder with ``token`` and delete the lock (one script)."""
        return bool(self._scripts("release_lock", [self._keys.lock(name)], [token]))

    def lock_owner(self, name: str) -> str | None:
        """GET the lock's key: the holder's token, or None."""
        owner = cast("bytes | None", self._client.get(self._keys.lock(name)))
        return None if owner is None else codec.text(owner)

    def marker(self, name: str) -> float | None:
        """GET the marker's key: its number, or None."""
        value = cast("bytes | None", self._client.get(self._keys.marker(name)))
        try:
            return None if value is None else float(value)
        except ValueError:
            return None

    def publish_command(self, worker_name: str, payload: bytes) -> int:
        """PUBLISH on the worker's channel; the number of subscribers that got it. (On a cluster,
        on the master of the channel's slot, where the worker subscribed: a node counts only its
        own subscribers.) It never waits for replicas: a message is delivered to the subscribers
        connected now and stored nowhere, so a failover has nothing of it to lose."""
        channel = self._keys.commands(worker_name)
        return int(self._server_of(channel).publish(channel, payload))

    def subscribe_commands(self, worker_name: str, handler: Callable[[bytes], None]) -> CommandSubscription:
        """SUBSCRIBE to the worker's channel on a listener thread (confirmed before returning)."""
        return RedisCommandSubscription(
            self._client, self._keys.commands(worker_name), handler, cluster=self._cluster
        )
