"""Retry policies for failed jobs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from jq.base.utils import MAX_SECONDS, public_module
from jq.exceptions import ConfigurationError

__all__ = ["Retry"]


class Retry:
    """Run a failed job again, up to ``max`` more times.

    :param max: how many retries (at least 1).
    :param interval: seconds to wait before each retry: one number for all of them, or a list
        whose n-th entry is used for the n-th retry (the last entry repeats); each at most
        :data:`jq.utils.MAX_SECONDS`.
    :param enqueue_at_front: put the job at the front of its queue when it is retried (at once,
        or when its interval has passed).
    """

    def __init__(self, max: int, interval: int | Iterable[int] = 0, enqueue_at_front: bool = False) -> None:
        if not isinstance(max, int) or isinstance(max, bool) or max < 1:
            raise ConfigurationError(f"Retry(max=...) must be a whole number of at least 1, not {max!r}")
        # Anything but a list-like (a float, None, a string) is one value, refused below if it is
        # not whole seconds: never a TypeError from iterating it.
        given: Any = interval
        is_list = isinstance(given, Iterable) and not isinstance(given, str | bytes)
        intervals: list[Any] = list(given) if is_list else [given]
        if not intervals or any(
            not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SECONDS
            for value in intervals
        ):
            raise ConfigurationError(
                f"Retry(interval=...) must be seconds from 0 to {MAX_SECONDS} or a non-empty list of "
                f"them, not {interval!r}"
            )
        self.max = max
        self.intervals: list[int] = intervals
        #: Put the job at the front of its queue when it is retried.
        self.enqueue_at_front = bool(enqueue_at_front)

    @classmethod
    def get_interval(cls, count: int, intervals: int | Sequence[int] | None) -> int:
        """Seconds to wait before retry number ``count`` (0-based): ``intervals`` itself when it is
        one number, else its ``count``-th entry, the last one repeating."""
        if isinstance(intervals, int):
            return intervals
        if not intervals:
            return 0
        return intervals[min(count, len(intervals) - 1)]

    def __repr__(self) -> str:
        interval = self.intervals[0] if len(self.intervals) == 1 else self.intervals
        return f"Retry(max={self.max}, interval={interval!r}, enqueue_at_front={self.enqueue_at_front!r})"


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.retry", Retry)
