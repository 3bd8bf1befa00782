"""RQ's ``rq.timeouts``, and jq's public path of :mod:`jq.base.timeouts`:
the same objects, re-exported."""

from __future__ import annotations

from jq.base.timeouts import (
    BaseDeathPenalty,
    BaseTimeoutException,
    HorseMonitorTimeoutException,
    JobTimeoutException,
    TimerDeathPenalty,
    UnixSignalDeathPenalty,
    current_deadline,
    get_default_death_penalty_class,
    hold_alarm_handler,
)

__all__ = [
    "BaseDeathPenalty",
    "BaseTimeoutException",
    "HorseMonitorTimeoutException",
    "JobTimeoutException",
    "TimerDeathPenalty",
    "UnixSignalDeathPenalty",
    "current_deadline",
    "get_default_death_penalty_class",
    "hold_alarm_handler",
]
