"""RQ's ``rq.worker_pool``, and jq's public path of :mod:`jq.worker.pool`:
the same objects, re-exported."""

from __future__ import annotations

from jq.worker.pool import (
    ForkProcess,
    WorkerData,
    WorkerPool,
    WorkerProcess,
    run_worker,
)

__all__ = [
    "ForkProcess",
    "WorkerData",
    "WorkerPool",
    "WorkerProcess",
    "run_worker",
]
