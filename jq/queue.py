"""RQ's ``rq.queue``, and jq's public path of :mod:`jq.queueing.queue`:
the same objects, re-exported."""

from __future__ import annotations

from jq.queueing.queue import (
    DEFAULT_TIMEOUT,
    EnqueueArgs,
    EnqueueData,
    Queue,
    QueueRegistry,
    RegistryT,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "EnqueueArgs",
    "EnqueueData",
    "Queue",
    "QueueRegistry",
    "RegistryT",
]
