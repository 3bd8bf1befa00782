"""jq's public path of :mod:`jq.core.retry`:
the same objects, re-exported."""

from __future__ import annotations

from jq.core.retry import (
    Retry,
)

__all__ = [
    "Retry",
]
