"""RQ's ``rq.rate_limit``, and jq's public path of :mod:`jq.core.rate_limit`:
the same objects, re-exported."""

from __future__ import annotations

from jq.core.rate_limit import (
    ACQUIRE_AND_ENQUEUE_SCRIPT,
    CLEANUP_REGISTRY_SCRIPT,
    MAINTENANCE_LOCK,
    RELEASE_AND_ENQUEUE_SCRIPT,
    RELEASE_STALE_AND_ENQUEUE_SCRIPT,
    RateLimit,
    RateLimitRegistry,
    check_rate_limit,
    clean_rate_limits,
    release_slot,
    released_fields,
)

__all__ = [
    "ACQUIRE_AND_ENQUEUE_SCRIPT",
    "CLEANUP_REGISTRY_SCRIPT",
    "MAINTENANCE_LOCK",
    "RELEASE_AND_ENQUEUE_SCRIPT",
    "RELEASE_STALE_AND_ENQUEUE_SCRIPT",
    "RateLimit",
    "RateLimitRegistry",
    "check_rate_limit",
    "clean_rate_limits",
    "release_slot",
    "released_fields",
]
