"""Suspending every worker of a store (RQ's ``rq.suspension``), over the broker's suspension.

While suspended, workers finish the job they run and take no new one; ``jqueue suspend`` and
``jqueue resume`` do the same from the command line. ``connection`` is anything a Queue accepts.
"""

from __future__ import annotations

from typing import Any

from jq.connections import key_prefix, resolve_broker
from jq_backends.keys import KeySpace

__all__ = ["WORKERS_SUSPENDED", "is_suspended", "resume", "suspend"]

#: The key that marks a suspension in jq's Redis layout, under the key prefix in effect at import
#: (RQ's is ``rq:suspended``). Use the functions here rather than the key.
WORKERS_SUSPENDED = KeySpace(key_prefix()).suspended


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
