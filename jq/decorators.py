"""RQ's ``rq.decorators``, and jq's public path of :mod:`jq.queueing.decorators`:
the same objects, re-exported."""

from __future__ import annotations

from jq.queueing.decorators import (
    job,
)

__all__ = [
    "job",
]
