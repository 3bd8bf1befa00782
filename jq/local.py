"""RQ's ``rq.local``, and jq's public path of :mod:`jq.compat.local`:
the same objects, re-exported."""

from __future__ import annotations

from jq.compat.local import (
    Local,
    LocalManager,
    LocalProxy,
    LocalStack,
    release_local,
)

__all__ = [
    "Local",
    "LocalManager",
    "LocalProxy",
    "LocalStack",
    "release_local",
]
