"""The memory driver's jq plugin: answers ``memory://`` URLs.

``memory://`` names the process's ``default`` store and ``memory://NAME`` the store ``NAME``
(:meth:`jq_backends.memory.MemoryBroker.named`), so every URL naming a store gets the same object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from jq.broker import Broker
from jq.plugins import hookimpl
from jq_backends.memory.broker import MemoryBroker

SCHEME = "memory"


@hookimpl
def jq_broker_from_url(url: str, options: Mapping[str, Any]) -> Broker | None:
    """The named memory store for a ``memory://`` URL; None for any other scheme.

    ``options`` are ignored: a named store is shared, so it cannot take per-caller settings.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != SCHEME:
        return None
    name = (parts.netloc + parts.path).strip("/") or "default"
    return MemoryBroker.named(name)
