"""How both drivers read the record fields the contract (:mod:`jq.broker`) names.

The Redis driver hands these to its scripts (:mod:`jq_backends.redis.scripts`), so that they are
spelled once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from jq import broker as contract
from jq.broker import FAILURE_TTL, PlaceKind

__all__ = [
    "FAILURE_TTL",
    "PENDING_STATUSES",
    "PLACE_OF_STATUS",
    "failure_ttl",
    "scheduled_field",
    "scheduled_time",
]

#: The contract's names, as the bytes a record holds (the scripts get them from here too).
PENDING_STATUSES: Final = frozenset(status.encode() for status in contract.PENDING_STATUSES)
PLACE_OF_STATUS: Final[Mapping[bytes, PlaceKind]] = {
    status.encode(): kind for status, kind in contract.STATUS_PLACES.items()
}

# An optional minus and ASCII digits, nothing else: the Lua scripts match '^%-?%d+$', and both
# drivers must agree on what counts as a number (int() would also take '+5', ' 5' and '1_0').
_WHOLE_SECONDS = re.compile(rb"-?[0-9]+")


def failure_ttl(raw: bytes | None, default: int) -> int:
    """Seconds to keep a canceled job: its ``failure_ttl`` field when that is whole seconds as
    text, else ``default`` (positive: seconds; negative: forever; zero: not kept at all)."""
    if raw is not None and _WHOLE_SECONDS.fullmatch(raw):
        return int(raw)
    return default


# A decimal number as both drivers write a score (repr of a float, see scheduled_field), or
# infinity; what the Lua scripts' tonumber() takes of the same text agrees on these.
_SCORE = re.compile(rb"-?(?:inf|[0-9]+(?:\.[0-9]*)?(?:e[-+]?[0-9]+)?)")


def scheduled_field(scheduled_at: float) -> bytes:
    """The :data:`jq.broker.SCHEDULED_AT` field for a job due at ``scheduled_at``, as both drivers
    write it (the Redis driver sends the score as this text)."""
    return repr(float(scheduled_at)).encode()


def scheduled_time(raw: bytes | None) -> float | None:
    """The time a :data:`jq.broker.SCHEDULED_AT` field holds, or None when it holds no number."""
    if raw is None or not _SCORE.fullmatch(raw):
        return None
    return float(raw)
