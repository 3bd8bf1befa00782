"""RQ's ``rq.suspension``, and jq's public path of :mod:`jq.compat.suspension`:
the same objects, re-exported."""

from __future__ import annotations

from jq.compat.rq_keys import rq_key_constant
from jq.compat.suspension import (
    is_suspended,
    resume,
    suspend,
)

__all__ = [
    "WORKERS_SUSPENDED",
    "is_suspended",
    "resume",
    "suspend",
]
WORKERS_SUSPENDED: str  # built on first use by __getattr__ below (see jq.compat.rq_keys)


def __getattr__(name: str) -> str:
    """RQ's key-name constants, built on first use (see :mod:`jq.compat.rq_keys`)."""
    return rq_key_constant(__name__, name)
