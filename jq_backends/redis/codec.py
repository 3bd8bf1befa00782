"""How the Redis driver encodes script arguments and decodes replies."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Final

from jq.broker import (
    PERSIST,
    STATUS,
    DependentsPolicy,
    Place,
    Record,
    Settlement,
    Status,
    WorkerUpdate,
)
from jq_backends.redis.scripts import PRESENCE_FIELD, Arg
from jq_backends.redis.wire import PolicyLetter, TtlLetter

__all__ = [
    "claimed_record",
    "expiry",
    "flag",
    "flat",
    "increments",
    "milliseconds",
    "pairs",
    "place_kind",
    "policy_letter",
    "record_from_flat",
    "record_from_hash",
    "score",
    "settlement",
    "text",
    "transition_ttl",
    "worker_args",
    "worker_record",
]


#: The status a claim writes.
STARTED = Status.STARTED.stored

# A dependents policy as lib_transition.lua reads it (see jq_backends.redis.wire).
_POLICY_LETTERS: Final[Mapping[DependentsPolicy, str]] = {
    DependentsPolicy.NONE: PolicyLetter.NONE,
    DependentsPolicy.FINISHED: PolicyLetter.FINISHED,
    DependentsPolicy.FAILED: PolicyLetter.FAILED,
    DependentsPolicy.VANISHED: PolicyLetter.VANISHED,
}


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


def transition_ttl(record_ttl: int | None) -> tuple[str, str | None]:
    """A transition's :attr:`~jq.broker.RecordEdit.record_ttl` as lib_transition.lua's mode letter
    (:class:`~jq_backends.redis.wire.TtlLetter`) and, to expire, the milliseconds; any negative
    number counts as PERSIST."""
    if record_ttl is None:
        return TtlLetter.KEEP, None
    if record_ttl == 0:
        return TtlLetter.DELETE, None
    if record_ttl <= PERSIST:
        return TtlLetter.PERSIST, None
    return TtlLetter.EXPIRE, str(milliseconds(record_ttl))


def flat(fields: Mapping[str, bytes]) -> list[Arg]:
    """A mapping as name, value, name, value... (a script's last part, read to the end of ARGV)."""
    return list(chain.from_iterable(fields.items()))


def pairs(fields: Mapping[str, bytes]) -> list[Arg]:
    """A mapping as a script argument list: its size, then name, value, name, value..."""
    return [len(fields), *flat(fields)]


def increments(amounts: Mapping[str, float]) -> list[Arg]:
    """Increments as name, amount... with each amount as HINCRBYFLOAT reads it."""
    args: list[Arg] = []
    for name, amount in amounts.items():  # a loop: a generator costs more for the one or two here
        args += (name, repr(float(amount)))
    return args


def worker_args(update: WorkerUpdate) -> list[Arg]:
    """A :class:`WorkerUpdate` as lib.lua reads one: w, w field/value pairs, k, k increments."""
    amounts = update.increments
    args = pairs(update.fields)
    args.append(len(amounts))
    if amounts:  # none on a claim's update: nothing more to build
        args += increments(amounts)
    return args


def flag(value: bool) -> str:
    """A boolean script argument."""
    return "1" if value else "0"


def text(value: bytes | str) -> str:
    """A name (id, queue, field) as ``str``."""
    return value.decode("utf-8") if isinstance(value, bytes) else value


def record_from_flat(items: Sequence[bytes]) -> Record:
    """A record from HGETALL's reply inside a script: field, value, field, value..."""
    names = items[0::2]
    return {
        name.decode("utf-8") if isinstance(name, bytes) else name: value
        for name, value in zip(names, items[1::2], strict=True)
    }


def claimed_record(before: Sequence[bytes], fields: Mapping[str, bytes]) -> tuple[Record, bytes | None]:
    """A claimed job's record: as the claim script read it before writing (HGETALL's field,
    value...), with the claim's ``fields`` and then status ``started`` written on it; and the
    status it had before the claim."""
    record = record_from_flat(before)
    prior_status = record.get(STATUS)
    record.update(fields)
    record[STATUS] = STARTED
    return record, prior_status


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


def policy_letter(policy: DependentsPolicy | str) -> str:
    """A dependents policy as lib_transition.lua reads it (:class:`~jq_backends.redis.wire.PolicyLetter`)."""
    # A member is looked up directly; a plain string ('finished') through the enum.
    if isinstance(policy, DependentsPolicy):
        return _POLICY_LETTERS[policy]
    return _POLICY_LETTERS[DependentsPolicy(policy)]


def settlement(settlement: Settlement, now: float | None) -> list[Arg]:
    """A settlement's arguments as lib_transition.lua's next_settlement reads them (its policy
    travels in the mode): under ``VANISHED`` its cancellation, the canceled fields (counted)
    and their default failure TTL; then ``now`` when given (the settlement's own, or the
    broker's clock: a canceled dependent's score counts from it)."""
    args: list[Arg] = []
    cancellation = settlement.cancellation
    if cancellation is not None:
        args += [*pairs(cancellation.fields), int(cancellation.default_failure_ttl)]
    if now is not None:
        args.append(score(now))
    return args
