"""The record fields and statuses jq's rules read and write, as the bytes a store holds.

Every status here is derived from :data:`jq.broker.STATUS_PLACES`, the contract's one list of
statuses and the places they live in, so that no rule spells a status of its own. The parsers
(:func:`failure_ttl`, :func:`scheduled_time`, :func:`limit_of`) read the fields the contract names
the way the Redis driver's Lua scripts read them, so both paths agree on what counts as a number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from jq.broker import types
from jq.broker.types import RATE_LIMIT_CONCURRENCY, RATE_LIMIT_KEY, STATUS_PLACES, PlaceKind

__all__ = [
    "CANCELED",
    "DEFERRED",
    "FAILED",
    "FINISHED",
    "PENDING_STATUSES",
    "PLACE_OF_STATUS",
    "QUEUED",
    "RATE_LIMITED",
    "SCHEDULED",
    "STARTED",
    "STATUS_OF_PLACE",
    "Limit",
    "failure_ttl",
    "format_number",
    "limit_of",
    "scheduled_field",
    "scheduled_time",
]

#: The place each stored status names (``stopped`` jobs are kept with the failed), as bytes.
PLACE_OF_STATUS: Final[Mapping[bytes, PlaceKind]] = {
    status.encode(): kind for status, kind in STATUS_PLACES.items()
}
#: Statuses of a job that has not ended yet, as bytes.
PENDING_STATUSES: Final = frozenset(status.encode() for status in types.PENDING_STATUSES)


def _status_of_places() -> dict[PlaceKind, bytes]:
    # The status a rule writes when it puts a job in a place: the only status of that place, or,
    # for the failed registry (which also keeps stopped jobs), the one named like the place.
    statuses: dict[PlaceKind, bytes] = {}
    for kind in PlaceKind:
        # A reserved job is a queued job that one worker will run (see jq.broker.Reservation).
        place = PlaceKind.QUEUE if kind is PlaceKind.RESERVED else kind
        named = [status for status, where in STATUS_PLACES.items() if where is place]
        if len(named) > 1:
            named = [status for status in named if status == kind.value]
        (status,) = named
        statuses[kind] = status.encode()
    return statuses


#: The status a job gets when a rule puts it in each kind of place.
STATUS_OF_PLACE: Final[Mapping[PlaceKind, bytes]] = _status_of_places()

QUEUED: Final = STATUS_OF_PLACE[PlaceKind.QUEUE]
STARTED: Final = STATUS_OF_PLACE[PlaceKind.STARTED]
FINISHED: Final = STATUS_OF_PLACE[PlaceKind.FINISHED]
#: The status of a dependency that a job allowing failure counts as met.
FAILED: Final = STATUS_OF_PLACE[PlaceKind.FAILED]
DEFERRED: Final = STATUS_OF_PLACE[PlaceKind.DEFERRED]
SCHEDULED: Final = STATUS_OF_PLACE[PlaceKind.SCHEDULED]
CANCELED: Final = STATUS_OF_PLACE[PlaceKind.CANCELED]
#: The status of a job waiting for a slot of its rate limit.
RATE_LIMITED: Final = STATUS_OF_PLACE[PlaceKind.RATE_LIMITED]

# An optional minus and ASCII digits, nothing else: the Lua scripts match '^%-?%d+$', and both
# paths must agree on what counts as a number (int() would also take '+5', ' 5' and '1_0').
_WHOLE_SECONDS = re.compile(rb"-?[0-9]+")


def failure_ttl(raw: bytes | None, default: int) -> int:
    """Seconds to keep a canceled job: its ``failure_ttl`` field when that is whole seconds as
    text, else ``default`` (positive: seconds; negative: forever; zero: not kept at all)."""
    if raw is not None and _WHOLE_SECONDS.fullmatch(raw):
        return int(raw)
    return default


# A decimal number as a score is written (repr of a float, see scheduled_field), or infinity;
# what the Lua scripts' tonumber() takes of the same text agrees on these.
_SCORE = re.compile(rb"-?(?:inf|[0-9]+(?:\.[0-9]*)?(?:e[-+]?[0-9]+)?)")


def scheduled_field(scheduled_at: float) -> bytes:
    """The :data:`jq.broker.SCHEDULED_AT` field for a job due at ``scheduled_at``, as every driver
    writes it (the Redis driver sends the score as this text)."""
    return repr(float(scheduled_at)).encode()


def scheduled_time(raw: bytes | None) -> float | None:
    """The time a :data:`jq.broker.SCHEDULED_AT` field holds, or None when it holds no number."""
    if raw is None or not _SCORE.fullmatch(raw):
        return None
    return float(raw)


#: A rate limit as a job's record names it: its key and its concurrency.
Limit = tuple[str, int]


def limit_of(record: Mapping[str, bytes] | None) -> Limit | None:
    """The rate limit a record (or the fields of one) names, or None: a key and a whole
    concurrency of at least 1, as the Lua scripts read them."""
    if record is None:
        return None
    key, concurrency = record.get(RATE_LIMIT_KEY), record.get(RATE_LIMIT_CONCURRENCY)
    if not key or concurrency is None or not concurrency.isdigit() or int(concurrency) < 1:
        return None
    return key.decode("utf-8", "replace"), int(concurrency)


def format_number(value: float) -> bytes:
    """A number as Redis's HINCRBYFLOAT writes it: ``b"3"`` for whole values, else shortest repr."""
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value)).encode()
    return repr(value).encode()
