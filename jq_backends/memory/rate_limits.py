"""The memory driver's rate limits: :class:`jq.broker.RateLimitStore`'s reads and releases (the
slots themselves are taken and freed by the calls that move jobs, see :mod:`._slots`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from jq.broker import RateLimitStore
from jq_backends.memory import _slots
from jq_backends.memory._base import MemoryState

__all__ = ["MemoryRateLimits"]


class MemoryRateLimits(MemoryState, RateLimitStore):
    """Rate-limit keys, their slots and lines; each method one critical section."""

    supports_rate_limits = True

    def rate_limit_keys(self) -> list[str]:
        """The keys with slots held or jobs waiting, sorted."""
        with self._cond:
            return sorted(self._rate_limits)

    def rate_limit_job_ids(self, key: str, *, waiting: bool = False) -> list[str]:
        """The ids holding a slot of ``key`` (or waiting for one), in order."""
        with self._cond:
            limited = self._rate_limits.get(key)
            if limited is None:
                return []
            return (limited.waiting if waiting else limited.slots).ordered()

    def rate_limit_concurrency(self, key: str) -> int | None:
        """The concurrency last asked for with ``key``, or None."""
        with self._cond:
            limited = self._rate_limits.get(key)
            return None if limited is None else limited.concurrency

    def release_rate_limit_slots(
        self,
        key: str,
        job_ids: Sequence[str] | None = None,
        *,
        released_fields: Mapping[str, bytes] | None = None,
        now: float | None = None,
    ) -> list[str]:
        """Free the slots of ``key`` no job holds any more, then admit waiting jobs."""
        with self._cond:
            moment = self._clock() if now is None else now
            return _slots.release_slots(self, key, job_ids, released_fields or {}, moment)
