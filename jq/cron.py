"""RQ's ``rq.cron``, and jq's public path of :mod:`jq.scheduling.cron`:
the same objects, re-exported."""

from __future__ import annotations

from jq.scheduling.cron import (
    DEFAULT_MISFIRE_GRACE,
    TIMINGS,
    Cron,
    CronJob,
    CronScheduler,
    create_cron,
    get_cron_job_history_key,
    get_cron_job_ids,
    load_cron,
    local_timezone,
    register,
)

__all__ = [
    "DEFAULT_MISFIRE_GRACE",
    "TIMINGS",
    "Cron",
    "CronJob",
    "CronScheduler",
    "create_cron",
    "get_cron_job_history_key",
    "get_cron_job_ids",
    "load_cron",
    "local_timezone",
    "register",
]
