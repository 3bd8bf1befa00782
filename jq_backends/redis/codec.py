"""How the Redis driver encodes script arguments and decodes replies."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from jq.broker import PERSIST, Place, Record
from jq_backends.redis.scripts import PRESENCE_FIELD, Arg

__all__ = [
    "expiry",
    "flag",
    "milliseconds",
    "pairs",
    "place_kind",
    "record_from_flat",
    "record_from_hash",
    "score",
    "text",
    "transition_ttl",
    "worker_record",
]


def score(value: float) -> str:
    """A registry score as Redis reads it: ``inf``/``-inf`` included, NaN refused."""
    number = float(value)
    if math.isnan(number):
        raise ValueError("a registry score cannot be NaN")
    return repr(number)


def milliseconds(seconds: float) -> int:
    """Seconds as the positive milliseconds PEXPIRE takes."""
    return max(1, round(seconds * 1000))


def expiry(record_ttl: float | None) -> str:
    """An enqueue/save ``record_ttl`` as a script argument: '' for no expiry, else milliseconds."""
    if record_ttl is None or record_ttl <= 0:
        return ""
    return str(milliseconds(record_ttl))


def transition_ttl(record_ttl: int | None) -> str:
    """A transition's ``record_ttl`` for transition.lua; any negative number counts as PERSIST."""
    if record_ttl is None:
        return "keep"
    if record_ttl == 0:
        return "delete"
    if record_ttl <= PERSIST:
        return "persist"
    return str(milliseconds(record_ttl))


def pairs(fields: Mapping[str, bytes]) -> list[Arg]:
    """A mapping as a script argument list: its size, then name, value, name, value..."""
    flat: list[Arg] = [len(fields)]
    for name, value in fields.items():
        flat.append(name)
        flat.append(value)
    return flat


def flag(value: bool) -> str:
    """A boolean script argument."""
    return "1" if value else "0"


def text(value: bytes | str) -> str:
    """A name (id, queue, field) as ``str``."""
    return value.decode("utf-8") if isinstance(value, bytes) else value


def record_from_flat(flat: Sequence[bytes]) -> Record:
    """A record from HGETALL's reply inside a script: field, value, field, value..."""
    return {text(flat[index]): flat[index + 1] for index in range(0, len(flat), 2)}


def record_from_hash(raw: Mapping[bytes, bytes]) -> Record | None:
    """A record from redis-py's HGETALL reply; None for the empty reply of a missing key."""
    return {text(name): value for name, value in raw.items()} if raw else None


def worker_record(raw: Mapping[bytes, bytes]) -> Record | None:
    """A worker record from HGETALL, without the field that keeps an empty one in existence."""
    if not raw:
        return None
    return {text(name): value for name, value in raw.items() if text(name) != PRESENCE_FIELD}


def place_kind(place: Place | None) -> str:
    """How a script removes an id from a place: 'queue' (LREM), 'registry' (ZREM), '' (none)."""
    if place is None:
        return ""
    return "queue" if place.is_queue else "registry"
