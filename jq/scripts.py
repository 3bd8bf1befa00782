"""RQ's ``rq.scripts``, and jq's public path of :mod:`jq.compat.scripts`:
the same objects, re-exported."""

from __future__ import annotations

from jq.compat.scripts import (
    ACQUIRE_OR_REFRESH_LOCK_SCRIPT,
    RELEASE_LOCK_SCRIPT,
    UNIQUE_ENQUEUE_SCRIPT,
    UNIQUE_SCHEDULE_SCRIPT,
    acquire_or_refresh_lock,
    get_unique_enqueue_script,
    get_unique_schedule_script,
    release_lock,
    save_unique_job,
    schedule_unique_job,
)

__all__ = [
    "ACQUIRE_OR_REFRESH_LOCK_SCRIPT",
    "RELEASE_LOCK_SCRIPT",
    "UNIQUE_ENQUEUE_SCRIPT",
    "UNIQUE_SCHEDULE_SCRIPT",
    "acquire_or_refresh_lock",
    "get_unique_enqueue_script",
    "get_unique_schedule_script",
    "release_lock",
    "save_unique_job",
    "schedule_unique_job",
]
