"""RQ's ``rq.cron_scheduler_registry``, and jq's public path of :mod:`jq.scheduling.cron_scheduler_registry`:
the same objects, re-exported."""

from __future__ import annotations

from jq.scheduling.cron_scheduler_registry import (
    UnregisteredScheduler,
    cleanup,
    get_keys,
    get_registry_key,
    register,
    unregister,
)

__all__ = [
    "UnregisteredScheduler",
    "cleanup",
    "get_keys",
    "get_registry_key",
    "register",
    "unregister",
]
