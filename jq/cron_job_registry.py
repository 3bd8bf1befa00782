"""RQ's ``rq.cron_job_registry``, and jq's public path of :mod:`jq.scheduling.cron_job_registry`:
the same objects, re-exported."""

from __future__ import annotations

from jq.scheduling.cron_job_registry import (
    add,
    get_names,
    get_registry_key,
    remove_stale_entries,
)

__all__ = [
    "add",
    "get_names",
    "get_registry_key",
    "remove_stale_entries",
]
