"""RQ's ``rq.scheduler``, and jq's public path of :mod:`jq.scheduling.scheduler` (the scheduler)
and :mod:`jq.compat.rq_scheduler` (RQ's scheduler class over it): the same objects, re-exported."""

from __future__ import annotations

from jq.compat.rq_keys import rq_key_constant
from jq.compat.rq_scheduler import SCHEDULER_KEY_TEMPLATE, ForkProcess, RQScheduler, SchedulerStatus, run
from jq.scheduling.scheduler import (
    DEFAULT_LOCK_TTL,
    DEFAULT_SCHEDULER_INTERVAL,
    Scheduler,
    scheduler_lock_name,
)

__all__ = [
    "DEFAULT_LOCK_TTL",
    "DEFAULT_SCHEDULER_INTERVAL",
    "SCHEDULER_KEY_TEMPLATE",
    "SCHEDULER_LOCKING_KEY_TEMPLATE",
    "ForkProcess",
    "RQScheduler",
    "Scheduler",
    "SchedulerStatus",
    "run",
    "scheduler_lock_name",
]

SCHEDULER_LOCKING_KEY_TEMPLATE: str  # built on first use by __getattr__ below


def __getattr__(name: str) -> str:
    """RQ's key-name constants, built on first use (see :mod:`jq.compat.rq_keys`)."""
    return rq_key_constant(__name__, name)
