"""The Redis driver's rate limits: :class:`jq.broker.RateLimitStore`'s reads and releases.

The slots themselves are taken and freed inside the scripts that move jobs (enqueue, transition,
promotion, release of dependents, delete, drop of a queue: see ``lua/lib_rate_limit.lua``), so a
job's admission is one atomic step with the move that needs it; the claim does not change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from jq.broker import RateLimitStore
from jq_backends.keys import RATE_LIMIT_CONCURRENCY_FIELD
from jq_backends.redis import codec
from jq_backends.redis._base import RedisState
from jq_backends.redis.scripts import Arg

__all__ = ["RedisRateLimits"]


class RedisRateLimits(RedisState, RateLimitStore):
    """Rate-limit keys on Redis: a sorted set of slots, a sorted set for the line, a hash of
    settings per key, and the set of keys in use."""

    supports_rate_limits = True

    def rate_limit_keys(self) -> list[str]:
        """SMEMBERS of the keys in use, sorted."""
        keys = cast("set[bytes]", self._client.smembers(self._keys.rate_limits))
        return sorted(codec.text(key) for key in keys)

    def rate_limit_job_ids(self, key: str, *, waiting: bool = False) -> list[str]:
        """ZRANGE of the key's slots (or line)."""
        name = self._keys.rate_limit_waiting(key) if waiting else self._keys.rate_limit_slots(key)
        return [codec.text(job_id) for job_id in cast("list[bytes]", self._client.zrange(name, 0, -1))]

    def rate_limit_concurrency(self, key: str) -> int | None:
        """HGET of the key's concurrency."""
        value = self._client.hget(self._keys.rate_limit(key), RATE_LIMIT_CONCURRENCY_FIELD)
        return int(value) if value else None

    def release_rate_limit_slots(
        self,
        key: str,
        job_ids: Sequence[str] | None = None,
        *,
        released_fields: Mapping[str, bytes] | None = None,
        now: float | None = None,
    ) -> list[str]:
        """Free the slots no job holds any more and admit waiting jobs (one script)."""
        args: list[Arg] = [key, codec.score(self._clock() if now is None else now)]
        args += ["a"] if job_ids is None else ["i", len(job_ids), *job_ids]
        args += codec.flat(released_fields or {})
        return [codec.text(job_id) for job_id in self._scripts("release_rate_limit_slots", [], args)]
