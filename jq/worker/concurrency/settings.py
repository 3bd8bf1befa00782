"""How many jobs one worker runs at once, and on what: ``concurrency`` and ``pool``."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from jq.exceptions import ConfigurationError

__all__ = ["ConcurrencyPool", "ConcurrencySettings"]


#: The most jobs one worker runs at once (``concurrency``).
MAX_CONCURRENCY = 1_000_000


class ConcurrencyPool(str, enum.Enum):
    """Where a worker running several jobs at once runs them.

    ``asyncio``: ``async def`` jobs run as tasks on one event loop (a thread of the worker), and
    plain functions on threads; ``threads``: every job on a thread of its own (an ``async def``
    job on an event loop of its own in that thread). Both count every job against one limit.
    """

    ASYNCIO = "asyncio"
    THREADS = "threads"

    @classmethod
    def parse(cls, value: ConcurrencyPool | str) -> ConcurrencyPool:
        """The pool named ``value``; ConfigurationError for a name jq does not know."""
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(repr(member.value) for member in cls)
            raise ConfigurationError(f"pool {value!r} is not one jq has: use one of {allowed}") from None

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class ConcurrencySettings:
    """A worker's ``concurrency`` (how many jobs at once, at least 1) and ``pool`` (None: one job
    at a time, the classic way, in the worker's own thread or work horse)."""

    concurrency: int = 1
    pool: ConcurrencyPool | None = None

    @classmethod
    def of(cls, concurrency: Any = 1, pool: ConcurrencyPool | str | None = None) -> ConcurrencySettings:
        """Check what a worker was given: ``concurrency`` above 1 without a pool means the
        ``asyncio`` pool; a pool with ``concurrency=1`` runs one job at a time in that pool."""
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError(f"concurrency must be a whole number of at least 1, not {concurrency!r}")
        if concurrency > MAX_CONCURRENCY:
            # Far more would exhaust the machine's memory before the first job (a typo's extra zeros).
            raise ConfigurationError(
                f"concurrency {concurrency} is more jobs at once than one process can hold: use at most "
                f"{MAX_CONCURRENCY:,}, and more workers for more"
            )
        chosen = ConcurrencyPool.parse(pool) if pool is not None else None
        if chosen is None and concurrency > 1:
            chosen = ConcurrencyPool.ASYNCIO
        return cls(concurrency, chosen)

    @property
    def concurrent(self) -> bool:
        """Whether jobs run in a pool (threads, an event loop) rather than one at a time in the
        worker's own thread."""
        return self.pool is not None

    def describe(self) -> str:
        """``10 jobs at once (asyncio pool)``, or ``one job at a time``."""
        if self.pool is None:
            return "one job at a time"
        return f"{self.concurrency} job{'s' if self.concurrency > 1 else ''} at once ({self.pool} pool)"
