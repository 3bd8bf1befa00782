"""Coordinating workers: :class:`jq.broker.ControlStore` on a store.

The suspension is the :attr:`RecordKind.CONTROL` record ``suspended``, expiring when a suspension
with a duration ends; a lock is a :attr:`RecordKind.LOCK` record holding its holder's token and
expiring unless extended; a marker of ``EnqueueRequest.once`` is a :attr:`RecordKind.MARKER`
record holding its value (written by :mod:`.enqueue`). Commands go through the store's
publish/subscribe, on the channel the key names give each worker.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from jq.broker.contract import CommandSubscription, ControlStore
from jq.broker.rules._base import StoreRules
from jq.broker.store import RecordKind, StoreTransaction

__all__ = ["LOCK_TOKEN", "MARKER_VALUE", "SUSPENDED", "StoreControl", "read_marker"]

#: The key of the control record present while workers are suspended.
SUSPENDED = "suspended"
#: The field of a lock record holding its holder's token.
LOCK_TOKEN = "token"
#: The field of a marker record holding its value (a number as text).
MARKER_VALUE = "value"


def read_marker(tx: StoreTransaction, name: str) -> float | None:
    """The marker's value, or None while it is unset (a value that is not a number counts as
    unset)."""
    record = tx.read(RecordKind.MARKER, name)
    raw = None if record is None else record.get(MARKER_VALUE)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def _holder(tx: StoreTransaction, name: str) -> str | None:
    record = tx.read(RecordKind.LOCK, name)
    token = None if record is None else record.get(LOCK_TOKEN)
    return None if token is None else token.decode()


class StoreControl(StoreRules, ControlStore):
    """Suspension, locks and markers as expiring records; commands by publish/subscribe."""

    def suspend(self, duration: float | None = None) -> None:
        """Suspend workers for ``duration`` seconds of the store's clock (until :meth:`resume`
        without one)."""
        with self.store.atomic() as tx:
            tx.write(RecordKind.CONTROL, SUSPENDED, {SUSPENDED: b"1"}, replace=True)
            deadline = None if duration is None else self.store.now() + duration
            tx.expire(RecordKind.CONTROL, SUSPENDED, deadline)

    def resume(self) -> None:
        """Lift the suspension."""
        with self.store.atomic() as tx:
            tx.delete(RecordKind.CONTROL, SUSPENDED)

    def is_suspended(self) -> bool:
        """Whether the suspension record exists (and has not expired)."""
        with self.store.atomic() as tx:
            return tx.read(RecordKind.CONTROL, SUSPENDED) is not None

    def suspension_remaining(self) -> float | None:
        """The time left before the suspension expires (``math.inf`` without an expiry), or
        None when workers are not suspended."""
        with self.store.atomic() as tx:
            if tx.read(RecordKind.CONTROL, SUSPENDED) is None:
                return None
            deadline = tx.expiry(RecordKind.CONTROL, SUSPENDED)
            if deadline is None:
                return math.inf
            left = deadline - self.store.now()
            return left if left > 0 else None

    def acquire_lock(self, name: str, token: str, ttl: float) -> bool:
        """Take the lock for ``ttl`` seconds unless someone holds it."""
        with self.store.atomic() as tx:
            if tx.read(RecordKind.LOCK, name) is not None:
                return False
            tx.write(RecordKind.LOCK, name, {LOCK_TOKEN: token.encode()}, replace=True)
            tx.expire(RecordKind.LOCK, name, self.store.now() + ttl)
            return True

    def extend_lock(self, name: str, token: str, ttl: float) -> bool:
        """Hold the lock ``ttl`` more seconds if ``token`` holds it now."""
        with self.store.atomic() as tx:
            if _holder(tx, name) != token:
                return False
            tx.expire(RecordKind.LOCK, name, self.store.now() + ttl)
            return True

    def release_lock(self, name: str, token: str) -> bool:
        """Free the lock if ``token`` holds it now."""
        with self.store.atomic() as tx:
            if _holder(tx, name) != token:
                return False
            tx.delete(RecordKind.LOCK, name)
            return True

    def lock_owner(self, name: str) -> str | None:
        """The token holding the lock, or None once it was released or expired."""
        with self.store.atomic() as tx:
            return _holder(tx, name)

    def marker(self, name: str) -> float | None:
        """The marker's value, or None while it is unset."""
        with self.store.atomic() as tx:
            return read_marker(tx, name)

    def publish_command(self, worker_name: str, payload: bytes) -> int:
        """Deliver ``payload`` to the handlers subscribed for the worker now; how many got it."""
        return self.store.publish(self._keys.commands(worker_name), payload)

    def subscribe_commands(self, worker_name: str, handler: Callable[[bytes], None]) -> CommandSubscription:
        """Call ``handler`` for each command published for the worker until closed."""
        return self.store.subscribe(self._keys.commands(worker_name), handler)
