"""RQ's ``rq.repeat``, and jq's public path of :mod:`jq.core.repeat`:
the same objects, re-exported."""

from __future__ import annotations

from jq.core.repeat import (
    Repeat,
)

__all__ = [
    "Repeat",
]
