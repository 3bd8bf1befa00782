"""A set of members with float scores, kept in ``(score, member)`` order for the memory store.

Reads never sort: a sorted list of ``(score, member)`` pairs is kept beside a member-to-score
dict, so a queue pop reads the first entry, a registry page is a slice, and "scores at or below"
is one bisection. Writes cost a bisection and a list insert or delete; removing the first entry
(a queue pop) only moves a head index, and the dead entries before it are cut off in one go once
they are as many as the live ones.
"""

from __future__ import annotations

import bisect

__all__ = ["ScoredSet", "inclusive_range"]

# Dead entries before the head are cut off once there are this many and at least as many live.
_COMPACT_AT = 64


def _score_of(entry: tuple[float, str]) -> float:
    return entry[0]


def inclusive_range(length: int, start: int, end: int) -> range:
    """The ranks ``start`` to ``end`` *inclusive* select, negative ones counting from the end.

    These are Redis's LRANGE/ZRANGE rules, so every driver slices queues and registries alike.
    """
    if start < 0:
        start = max(length + start, 0)
    if end < 0:
        end = length + end
    end = min(end, length - 1)
    return range(start, end + 1) if start <= end else range(0)


class ScoredSet:
    """Members with float scores, read in ascending ``(score, member)`` order.

    Ties break on the member so that the order is total and matches a Redis sorted set (which
    orders equal scores by member bytes; UTF-8 byte order is code point order).
    """

    __slots__ = ("_head", "_order", "_scores")

    def __init__(self) -> None:
        self._scores: dict[str, float] = {}
        # The live entries are _order[_head:], sorted.
        self._order: list[tuple[float, str]] = []
        self._head = 0

    def __len__(self) -> int:
        return len(self._scores)

    def add(self, member: str, score: float) -> None:
        """Add the member or change its score."""
        old = self._scores.get(member)
        if old is not None:
            if old == score:
                return
            self._drop(old, member)
        self._scores[member] = score
        entry = (score, member)
        order = self._order
        if len(order) == self._head or order[-1] < entry:
            order.append(entry)  # the common case: a push at the back of a queue
        else:
            bisect.insort(order, entry, self._head)

    def remove(self, member: str) -> bool:
        """Remove the member; whether it was there."""
        score = self._scores.pop(member, None)
        if score is None:
            return False
        self._drop(score, member)
        return True

    def _drop(self, score: float, member: str) -> None:
        order, head = self._order, self._head
        index = bisect.bisect_left(order, (score, member), head)
        if index != head:
            del order[index]
            return
        # The first entry (a queue pop): move the head rather than every entry after it.
        head += 1
        if head == len(order):
            order.clear()
            head = 0
        elif head >= _COMPACT_AT and head >= len(order) - head:
            del order[:head]
            head = 0
        self._head = head

    def score(self, member: str) -> float | None:
        """The member's score, or None."""
        return self._scores.get(member)

    def members(self, start: int, end: int, max_score: float | None, reverse: bool) -> list[str]:
        """Members at ranks ``start`` to ``end`` inclusive, ascending (descending with
        ``reverse``), of those scored at or below ``max_score`` when given."""
        order, head = self._order, self._head
        stop = len(order) if max_score is None else bisect.bisect_right(order, max_score, head, key=_score_of)
        ranks = inclusive_range(stop - head, start, end)
        if not reverse:
            return [member for _, member in order[head + ranks.start : head + ranks.stop]]
        return [order[stop - 1 - rank][1] for rank in ranks]

    def copy(self) -> dict[str, float]:
        """The members and their scores."""
        return dict(self._scores)
