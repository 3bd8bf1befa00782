"""The memory driver's control of workers: suspension, locks, and commands delivered in-process."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable

from jq.broker import CommandSubscription, ControlStore
from jq_backends.memory._base import MemoryState

__all__ = ["MemoryControl", "Subscription"]

logger = logging.getLogger("jq.broker.memory")


class Subscription:
    """One handler for one worker's commands; calls to it never overlap."""

    def __init__(self, owner: MemoryControl, worker_name: str, handler: Callable[[bytes], None]) -> None:
        self._owner = owner
        self.worker_name = worker_name
        self._handler = handler
        self._lock = threading.Lock()
        self.closed = False

    def deliver(self, payload: bytes) -> None:
        with self._lock:
            if self.closed:
                return
            try:
                self._handler(payload)
            except Exception:
                logger.exception("a command handler for worker %s failed", self.worker_name)

    def close(self) -> None:
        """Stop receiving; waits for a delivery in progress to end."""
        with self._lock:
            self.closed = True
        self._owner._forget_subscription(self)


class MemoryControl(MemoryState, ControlStore):
    """Suspension and locks as deadlines; commands handed to subscribers in the publishing thread."""

    def suspend(self, duration: float | None = None) -> None:
        """Suspend workers until ``clock() + duration`` (forever without a duration)."""
        with self._cond:
            self._suspended_until = math.inf if duration is None else self._clock() + duration

    def resume(self) -> None:
        """Lift the suspension."""
        with self._cond:
            self._suspended_until = None

    def is_suspended(self) -> bool:
        """Whether the suspension deadline is still ahead."""
        with self._cond:
            return self._suspended_until is not None and self._clock() < self._suspended_until

    def suspension_remaining(self) -> float | None:
        """The time left before the suspension deadline (``math.inf`` without one), or None."""
        with self._cond:
            until = self._suspended_until
            if until is None:
                return None
            left = until - self._clock()
            return left if left > 0 else None

    def acquire_lock(self, name: str, token: str, ttl: float) -> bool:
        """Take the lock until ``clock() + ttl`` unless a holder's deadline is still ahead."""
        with self._cond:
            if self._lock_holder(name) is not None:
                return False
            self._locks[name] = (token, self._clock() + ttl)
            return True

    def extend_lock(self, name: str, token: str, ttl: float) -> bool:
        """Move the deadline to ``clock() + ttl`` if ``token`` holds the lock now."""
        with self._cond:
            if self._lock_holder(name) != token:
                return False
            self._locks[name] = (token, self._clock() + ttl)
            return True

    def release_lock(self, name: str, token: str) -> bool:
        """Free the lock if ``token`` holds it now."""
        with self._cond:
            if self._lock_holder(name) != token:
                return False
            del self._locks[name]
            return True

    def lock_owner(self, name: str) -> str | None:
        """The token holding the lock, or None once it was released or expired."""
        with self._cond:
            return self._lock_holder(name)

    def marker(self, name: str) -> float | None:
        """The marker's value, or None while it is unset."""
        with self._cond:
            return self._markers.get(name)

    def _lock_holder(self, name: str) -> str | None:
        # Deadlines are checked on access, like record and worker expiry.
        held = self._locks.get(name)
        if held is None:
            return None
        if self._clock() >= held[1]:
            del self._locks[name]
            return None
        return held[0]

    def publish_command(self, worker_name: str, payload: bytes) -> int:
        """Call each subscribed handler now, in this thread; how many there were."""
        with self._cond:
            receivers = list(self._subscriptions.get(worker_name, ()))
        # Outside the lock: a handler may well call back into the broker.
        for subscription in receivers:
            subscription.deliver(payload)
        return len(receivers)

    def subscribe_commands(self, worker_name: str, handler: Callable[[bytes], None]) -> CommandSubscription:
        """Register ``handler`` for the worker's commands."""
        subscription = Subscription(self, worker_name, handler)
        with self._cond:
            self._subscriptions.setdefault(worker_name, []).append(subscription)
        return subscription

    def _forget_subscription(self, subscription: Subscription) -> None:
        with self._cond:
            remaining = [
                s for s in self._subscriptions.get(subscription.worker_name, []) if s is not subscription
            ]
            if remaining:
                self._subscriptions[subscription.worker_name] = remaining
            else:
                self._subscriptions.pop(subscription.worker_name, None)
