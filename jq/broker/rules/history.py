"""The history of outcomes on a store: :class:`jq.broker.MonitoringStore` and the counting of a
transition's :class:`~jq.broker.Tally`, as :mod:`jq.broker.history` lays them out.

:func:`tally_in` runs inside the transition's own block (see :mod:`.transitions`): the history
costs no block of its own. The records are those of :attr:`RecordKind.TOTALS`,
:attr:`RecordKind.MINUTES` and :attr:`RecordKind.HOURS`, named by :func:`counts_key` and listed,
by when they expire, in the queue's :attr:`SetKind.HISTORY` set.
"""

from __future__ import annotations

from collections.abc import Sequence

from jq.broker.history import (
    COUNT_FIELD,
    FUNCTIONS_KEPT,
    KNOWN_CODE,
    OTHER_FUNCTION,
    SUM_CODE,
    Counts,
    Resolution,
    Tally,
    bucket_field,
    parse_counts,
    parse_totals,
    record_start,
    record_starts,
    totals_field,
)
from jq.broker.monitoring import MonitoringStore
from jq.broker.rules._base import StoreRules
from jq.broker.store import Collection, RecordKind, SetKind, StoreTransaction
from jq.broker.types import Record

__all__ = ["StoreHistory", "counts_key", "tally_in"]

#: The record kind of the counts of each resolution.
_KINDS = {Resolution.MINUTE: RecordKind.MINUTES, Resolution.HOUR: RecordKind.HOURS}


def counts_key(start: int, queue: str) -> str:
    """The key of the record of counts of ``queue`` whose span starts at ``start``."""
    return f"{start}:{queue}"


def _add(record: Record, name: str, amount: int = 1) -> None:
    record[name] = str(int(record.get(name, b"0")) + amount).encode()


def _counted_as(totals: Record, function: str) -> str:
    """The name the queue counts ``function`` under: its own while the queue counts fewer than
    :data:`FUNCTIONS_KEPT` functions by name (it joins them), else :data:`OTHER_FUNCTION`."""
    known = totals_field(KNOWN_CODE, function)
    if known in totals:
        return function
    if int(totals.get(COUNT_FIELD, b"0")) >= FUNCTIONS_KEPT:
        return OTHER_FUNCTION
    totals[known] = b"1"
    _add(totals, COUNT_FIELD)
    return function


def tally_in(tx: StoreTransaction, tally: Tally, now: float) -> None:
    """Count ``tally`` in its queue's totals and counts per minute and per hour; ``now`` is the
    store's clock (the tally's time when it has none)."""
    at = now if tally.at is None else tally.at
    totals = tx.read(RecordKind.TOTALS, tally.queue) or {}
    function = _counted_as(totals, tally.function)
    code = tally.code
    _add(totals, totals_field(code, function))
    if tally.run_time is not None:
        _add(totals, totals_field(SUM_CODE, function), tally.microseconds)
    tx.write(RecordKind.TOTALS, tally.queue, totals)
    for resolution, kind in _KINDS.items():
        start = record_start(at, resolution)
        key = counts_key(start, tally.queue)
        record = tx.read(kind, key)
        offset = int((at - start) // resolution.step)
        counts = {} if record is None else record
        _add(counts, bucket_field(offset, code, function))
        tx.write(kind, key, counts)
        if record is None:
            deadline = resolution.deadline(start)
            tx.expire(kind, key, deadline)
            _index(tx, kind, key, deadline, tally.queue, now)


def _index(tx: StoreTransaction, kind: RecordKind, key: str, deadline: float, queue: str, now: float) -> None:
    """List a new record of counts in its queue's :attr:`SetKind.HISTORY` set, and drop the
    records listed there that expired by ``now``: a store may keep an expired record until it is
    read (the memory store does), and nobody reads an old minute again."""
    index = Collection(SetKind.HISTORY, queue)
    tx.add(index, f"{kind.value}:{key}", deadline)
    for member in tx.members(index, max_score=now):
        expired_kind, _, expired_key = member.partition(":")
        tx.delete(RecordKind(expired_kind), expired_key)
        tx.remove(index, member)


class StoreHistory(StoreRules, MonitoringStore):
    """The history's reads, each one block."""

    supports_history = True

    def history_totals(self, queues: Sequence[str]) -> list[dict[str, Counts]]:
        """Each queue's totals by function."""
        with self.store.atomic() as tx:
            return [parse_totals(tx.read(RecordKind.TOTALS, queue)) for queue in queues]

    def history_counts(
        self, queues: Sequence[str], resolution: Resolution, since: float, until: float
    ) -> list[list[tuple[float, str, Counts]]]:
        """Each queue's counts per bucket starting in ``[since, until)``."""
        kind, starts = _KINDS[resolution], record_starts(resolution, since, until)
        found: list[list[tuple[float, str, Counts]]] = []
        with self.store.atomic() as tx:
            for queue in queues:
                counts: list[tuple[float, str, Counts]] = []
                for start in starts:
                    record = tx.read(kind, counts_key(start, queue))
                    counts.extend(parse_counts(record, start, resolution, since, until))
                found.append(counts)
        return found
