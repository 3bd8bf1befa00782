"""Rate limits: :class:`jq.broker.RateLimitStore`'s reads and releases on a store (the slots
themselves are taken and freed by the calls that move jobs, see :mod:`.slots`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from jq.broker.optional import RateLimitStore
from jq.broker.rules._base import StoreRules
from jq.broker.rules.slots import KEYS_IN_USE, line_of, release_slots, slots_of

__all__ = ["StoreRateLimits"]


class StoreRateLimits(StoreRules, RateLimitStore):
    """Rate-limit keys, their slots and lines; each method one atomic block."""

    supports_rate_limits = True

    def rate_limit_keys(self) -> list[str]:
        """The keys with slots held or jobs waiting, sorted."""
        with self.store.atomic() as tx:
            # Scored by concurrency, not by name: sorted here.
            return sorted(tx.members(KEYS_IN_USE))

    def rate_limit_job_ids(self, key: str, *, waiting: bool = False) -> list[str]:
        """The ids holding a slot of ``key`` in the order they took it (or waiting for one, in
        line)."""
        with self.store.atomic() as tx:
            return tx.members(line_of(key) if waiting else slots_of(key))

    def rate_limit_concurrency(self, key: str) -> int | None:
        """The concurrency last asked for with ``key``, or None for a key not in use."""
        with self.store.atomic() as tx:
            concurrency = tx.score(KEYS_IN_USE, key)
        return None if concurrency is None else int(concurrency)

    def release_rate_limit_slots(
        self,
        key: str,
        job_ids: Sequence[str] | None = None,
        *,
        released_fields: Mapping[str, bytes] | None = None,
        now: float | None = None,
    ) -> list[str]:
        """Free the slots of ``key`` no job holds any more, then admit waiting jobs."""
        with self.store.atomic() as tx:
            clock = self.store.now()
            before = clock if now is None else now
            return release_slots(tx, key, job_ids, released_fields or {}, before, clock)
