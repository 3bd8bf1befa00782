"""RQ's ``rq.dependency``, and jq's public path of :mod:`jq.core.dependency`:
the same objects, re-exported."""

from __future__ import annotations

from jq.core.dependency import (
    Dependency,
    dependency_ids,
)

__all__ = [
    "Dependency",
    "dependency_ids",
]
