"""RQ's ``rq.maintenance``, and jq's public path of :mod:`jq.compat.maintenance`:
the same objects, re-exported."""

from __future__ import annotations

from jq.compat.maintenance import (
    clean_intermediate_queue,
)

__all__ = [
    "clean_intermediate_queue",
]
