"""Riding out store outages: a capped back-off, and retrying a write until the store is back."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from jq.broker import Broker
from jq.exceptions import JQError

__all__ = ["Backoff", "describe_outage", "retry_transient", "wait_for_room"]

logger = logging.getLogger("jq.worker")

T = TypeVar("T")


class Backoff:
    """Delays that double from ``first`` up to ``cap`` seconds; :meth:`reset` starts over."""

    def __init__(self, first: float = 0.1, cap: float = 2.0) -> None:
        self.first = first
        self.cap = cap
        self.failures = 0

    def next_delay(self) -> float:
        """Count a failure; the seconds to wait before trying again."""
        self.failures += 1
        delay: float = min(self.first * 2.0 ** (self.failures - 1), self.cap)
        return delay

    def reset(self) -> None:
        """The store answered: the next failure starts from ``first`` again."""
        self.failures = 0


def describe_outage(broker: Broker, error: BaseException) -> str:
    """Why the store cannot be used now, for one log line: unreachable, or full."""
    if isinstance(error, broker.full_errors):
        if isinstance(error, JQError):
            return str(error)  # the driver's own words, with what to do
        return (
            f"the store is full and refuses writes ({error}); make room (free memory, or raise its "
            "limit) and work goes on"
        )
    return f"the store is unreachable ({error})"


def retry_transient(broker: Broker, action: Callable[[], T], *, patience: float, what: str) -> T:
    """``action()``, tried again while the store is unreachable, for up to ``patience`` seconds.

    Only the broker's :attr:`~jq.broker.Broker.transient_errors` are retried; after ``patience``
    seconds the last one is raised. Used for writes that must not be lost, such as a job's outcome.
    """
    deadline = time.monotonic() + patience
    backoff = Backoff()
    while True:
        try:
            return action()
        except broker.transient_errors as error:
            delay = backoff.next_delay()
            if time.monotonic() + delay > deadline:
                raise
            if backoff.failures == 1:
                logger.warning("could not %s: %s; trying again", what, describe_outage(broker, error))
            time.sleep(delay)


def wait_for_room(broker: Broker, action: Callable[[], T], *, what: str) -> T:
    """``action()``, tried again while the store says it is full (:attr:`Broker.full_errors`),
    with a capped back-off and for as long as it takes: said once, with what to do. Any other
    error is raised. For what a worker must write before it can work at all (its record)."""
    backoff = Backoff()
    while True:
        try:
            return action()
        except broker.full_errors as error:
            if backoff.failures == 0:
                logger.warning("%s: %s; waiting for room", what, describe_outage(broker, error))
            time.sleep(backoff.next_delay())
