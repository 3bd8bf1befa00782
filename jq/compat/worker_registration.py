"""The indexes of live workers (RQ's ``rq.worker_registration``), over jq's worker records.

jq keeps, per store, the set of live workers and, per queue, the set of workers listening to it;
a worker's record and its places in both are written in one atomic step when it starts
(:meth:`Broker.register_worker`) and removed in one when it stops, and names whose record expired
(a worker killed with SIGKILL) are dropped whenever the indexes are read. Worker *keys* are what
RQ's functions exchange: ``jq:worker:<name>`` (``Worker.key``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jq.compat.rq_keys import rq_key_constant
from jq.exceptions import UnsupportedByBrokerError
from jq.io.connections import resolve_broker
from jq.worker.registration import registration_of

if TYPE_CHECKING:
    from jq.queueing.queue import Queue

__all__ = [
    "MAX_KEYS",
    "REDIS_WORKER_KEYS",
    "WORKERS_BY_QUEUE_KEY",
    "clean_worker_registry",
    "get_keys",
    "register",
    "unregister",
]

# WORKERS_BY_QUEUE_KEY (a queue's set of workers, ``%`` the queue name; RQ's is
# ``rq:workers:%s``) and REDIS_WORKER_KEYS (every live worker; RQ's is ``rq:workers``): keys in
# jq's Redis layout, built on first use by __getattr__ below. They hold worker names, not keys.
#: How many keys RQ removes from an index per command; jq prunes in one script.
MAX_KEYS = 1000


def _refuse_pipeline(pipeline: Any, what: str) -> None:
    if pipeline is not None:
        raise UnsupportedByBrokerError(
            f"{what} a worker is one atomic step of its own in jq (its record and its indexes "
            "together): call without pipeline="
        )


def register(worker: Any, pipeline: Any = None) -> None:
    """Register a live worker: its record, and its name in the indexes of its queues (raises
    :class:`jq.exceptions.DuplicateWorkerError` if a live worker has its name). Workers do this
    themselves when they start."""
    _refuse_pipeline(pipeline, "registering")
    registration = getattr(worker, "registration", None) or registration_of(worker)
    registration.register_birth()


def unregister(worker: Any, pipeline: Any = None) -> None:
    """Remove a worker's record and its name from every index. Workers do this when they stop."""
    _refuse_pipeline(pipeline, "unregistering")
    worker.broker.unregister_worker(worker.name)


def get_keys(queue: Queue | None = None, connection: Any = None) -> set[str]:
    """The keys of the live workers listening to ``queue``, or of every live worker of
    ``connection``'s store; ValueError when neither is given."""
    if queue is None and connection is None:
        raise ValueError('"queue" or "connection" argument is required')
    broker = queue.broker if queue is not None else resolve_broker(connection)
    names = broker.worker_names(queue.name if queue is not None else None)
    return {broker.worker_key(name) for name in names}


def clean_worker_registry(queue: Queue) -> None:
    """Drop the workers whose record expired from ``queue``'s index and from the index of every
    worker (reading an index prunes it, in one atomic step)."""
    queue.broker.worker_names(queue.name)
    queue.broker.worker_names()


REDIS_WORKER_KEYS: str  # built on first use by __getattr__
WORKERS_BY_QUEUE_KEY: str  # built on first use by __getattr__


def __getattr__(name: str) -> str:
    """RQ's key-name constants, built on first use (see :mod:`jq.compat.rq_keys`)."""
    return rq_key_constant(__name__, name)
