"""RQ's ``rq.registry``, and jq's public path of :mod:`jq.queueing.registry`:
the same objects, re-exported."""

from __future__ import annotations

from jq.queueing.registry import (
    BaseRegistry,
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    RateLimitedJobRegistry,
    ReadyJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
    clean_registries,
)

__all__ = [
    "BaseRegistry",
    "CanceledJobRegistry",
    "DeferredJobRegistry",
    "FailedJobRegistry",
    "FinishedJobRegistry",
    "RateLimitedJobRegistry",
    "ReadyJobRegistry",
    "ScheduledJobRegistry",
    "StartedJobRegistry",
    "clean_registries",
]
