"""RQ's ``rq.intermediate_queue``, and jq's public path of :mod:`jq.compat.intermediate_queue`:
the same objects, re-exported."""

from __future__ import annotations

from jq.compat.intermediate_queue import (
    IntermediateQueue,
)

__all__ = [
    "IntermediateQueue",
]
