"""RQ's ``rq.webhook``, and jq's public path of :mod:`jq.core.webhook`:
the same objects, re-exported."""

from __future__ import annotations

from jq.core.webhook import (
    Webhook,
)

__all__ = [
    "Webhook",
]
