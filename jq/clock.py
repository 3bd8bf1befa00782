"""jq's public path of :mod:`jq.base.clock`:
the same objects, re-exported."""

from __future__ import annotations

from jq.base.clock import (
    scheduling_now,
    scheduling_time,
    use_scheduling_clock,
)

__all__ = [
    "scheduling_now",
    "scheduling_time",
    "use_scheduling_clock",
]
