"""RQ's ``rq.executions``, and jq's public path of :mod:`jq.queueing.executions`:
the same objects, re-exported."""

from __future__ import annotations

from jq.compat.rq_keys import rq_key_constant
from jq.queueing.executions import (
    Execution,
    ExecutionRegistry,
    cleanup_execution,
    prepare_execution,
)

__all__ = [
    "Execution",
    "ExecutionRegistry",
    "cleanup_execution",
    "prepare_execution",
]
WORKER_EXECUTIONS_KEY_TEMPLATE: str  # built on first use by __getattr__ below (see jq.compat.rq_keys)


def __getattr__(name: str) -> str:
    """RQ's key-name constants, built on first use (see :mod:`jq.compat.rq_keys`)."""
    return rq_key_constant(__name__, name)
