"""The memory driver's jq plugin: answers ``memory://`` URLs.

``memory://`` names the process's ``default`` store and ``memory://NAME`` the store ``NAME``
(:meth:`jq_backends.memory.MemoryBroker.named`), so every URL naming a store gets the same object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from jq.broker import Broker
from jq.exceptions import ConfigurationError
from jq.plugins import hookimpl
from jq_backends.memory.broker import MemoryBroker

SCHEME = "memory"


@hookimpl
def jq_broker_from_url(url: str, options: Mapping[str, Any]) -> Broker | None:
    """The named memory store for a ``memory://`` URL; None for any other scheme.

    ``options`` are ignored: a named store is shared, so it cannot take per-caller settings. A
    query (``?wait_replicas=1``) is refused: a store inside one process has no setting to take
    there, and ignoring one would let a URL promise what the store does not do.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != SCHEME:
        return None
    if parts.query:
        raise ConfigurationError(
            f"{url!r}: memory:// takes no arguments (?{parts.query}): a memory store lives in this "
            "process, with no replicas to wait for and no connection to tune; use redis:// or "
            "sqlite:// for a store with settings"
        )
    name = (parts.netloc + parts.path).strip("/") or "default"
    return MemoryBroker.named(name)
