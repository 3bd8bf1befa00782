"""Suspending every worker of a store (RQ's ``rq.suspension``), over the broker's suspension.

While suspended, workers finish the job they run and take no new one; ``jqueue suspend`` and
``jqueue resume`` do the same from the command line. ``connection`` is anything a Queue accepts.
"""

from __future__ import annotations

from typing import Any

from jq.compat.rq_keys import rq_key_constant
from jq.io.connections import resolve_broker

__all__ = ["WORKERS_SUSPENDED", "is_suspended", "resume", "suspend"]

# WORKERS_SUSPENDED: the key that marks a suspension in jq's Redis layout (RQ's is
# ``rq:suspended``), built on first use by __getattr__ below. Use the functions here rather than
# the key.


def is_suspended(connection: Any, worker: Any = None) -> bool:
    """Whether workers are suspended now. Given a ``worker``, its heartbeat is renewed first
    (RQ's worker checks this between jobs)."""
    heartbeat = getattr(worker, "heartbeat", None)
    if callable(heartbeat):
        heartbeat()
    return resolve_broker(connection).is_suspended()


def suspend(connection: Any, ttl: int | None = None) -> None:
    """Suspend every worker, for ``ttl`` seconds or until :func:`resume` (None). A ``ttl`` of 0
    or less ends the suspension at once, as in RQ."""
    broker = resolve_broker(connection)
    if ttl is not None and ttl <= 0:
        broker.resume()
        return
    broker.suspend(ttl)


def resume(connection: Any) -> int:
    """Lift the suspension; 1 when workers were suspended, else 0."""
    broker = resolve_broker(connection)
    was_suspended = broker.is_suspended()
    broker.resume()
    return int(was_suspended)


WORKERS_SUSPENDED: str  # built on first use by __getattr__


def __getattr__(name: str) -> str:
    """RQ's key-name constants, built on first use (see :mod:`jq.compat.rq_keys`)."""
    return rq_key_constant(__name__, name)
