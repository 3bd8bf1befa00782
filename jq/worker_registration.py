"""RQ's ``rq.worker_registration``, and jq's public path of :mod:`jq.compat.worker_registration`:
the same objects, re-exported."""

from __future__ import annotations

from jq.compat.rq_keys import rq_key_constant
from jq.compat.worker_registration import (
    MAX_KEYS,
    clean_worker_registry,
    get_keys,
    register,
    unregister,
)

__all__ = [
    "MAX_KEYS",
    "REDIS_WORKER_KEYS",
    "WORKERS_BY_QUEUE_KEY",
    "clean_worker_registry",
    "get_keys",
    "register",
    "unregister",
]
REDIS_WORKER_KEYS: str  # built on first use by __getattr__ below (see jq.compat.rq_keys)
WORKERS_BY_QUEUE_KEY: str  # built on first use by __getattr__ below (see jq.compat.rq_keys)


def __getattr__(name: str) -> str:
    """RQ's key-name constants, built on first use (see :mod:`jq.compat.rq_keys`)."""
    return rq_key_constant(__name__, name)
