"""A set of members with float scores, kept in ``(score, member)`` order for the memory store.

Reads never sort: a sorted list of ``(score, member)`` pairs is kept beside a member-to-score
dict, so a queue pop reads index 0, a registry page is a slice, and "scores at or below" is one
bisection. Writes cost a bisection and a list insert or delete.
"""

from __future__ import annotations

import bisect

__all__ = ["ScoredSet", "inclusive_range"]


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

    __slots__ = ("_order", "_scores")

    def __init__(self) -> None:
        self._scores: dict[str, float] = {}
        self._order: list[tuple[float, str]] = []

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
        if not self._order or self._order[-1] < entry:
            self._order.append(entry)  # the common case: a push at the back of a queue
        else:
            bisect.insort(self._order, entry)

    def remove(self, member: str) -> bool:
        """Remove the member; whether it was there."""
        score = self._scores.pop(member, None)
        if score is None:
            return False
        self._drop(score, member)
        return True

    def _drop(self, score: float, member: str) -> None:
        del self._order[bisect.bisect_left(self._order, (score, member))]

    def score(self, member: str) -> float | None:
        """The member's score, or None."""
        return self._scores.get(member)

    def members(self, start: int, end: int, max_score: float | None, reverse: bool) -> list[str]:
        """Members at ranks ``start`` to ``end`` inclusive, ascending (descending with
        ``reverse``), of those scored at or below ``max_score`` when given."""
        order = self._order
        length = len(order) if max_score is None else bisect.bisect_right(order, max_score, key=_score_of)
        ranks = inclusive_range(length, start, end)
        if not reverse:
            return [member for _, member in order[ranks.start : ranks.stop]]
        last = length - 1
        return [order[last - rank][1] for rank in ranks]

    def copy(self) -> dict[str, float]:
        """The members and their scores."""
        return dict(self._scores)
