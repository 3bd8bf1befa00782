"""The Redis driver's registries and moves: :class:`jq.broker.RegistryStore` on sorted sets."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import cast

from jq.broker import (
    RESULTS_KEPT,
    DependentsPolicy,
    Place,
    PlaceKind,
    RegistryStore,
    Transition,
)
from jq_backends.redis import codec
from jq_backends.redis._base import RedisState
from jq_backends.redis.scripts import Arg

__all__ = ["RedisRegistries"]


class RedisRegistries(RedisState, RegistryStore):
    """Registry reads and writes (one command each), transitions and promotions (one script each)."""

    def registry_ids(self, place: Place, start: int = 0, end: int = -1) -> list[str]:
        """ZRANGE of the registry."""
        ids = cast("list[bytes]", self._client.zrange(self._keys.place(place), start, end))
        return [codec.text(job_id) for job_id in ids]

    def registry_count(self, place: Place) -> int:
        """ZCARD of the registry."""
        return self._client.zcard(self._keys.place(place))

    def registry_score(self, place: Place, job_id: str) -> float | None:
        """ZSCORE of the id (``inf`` comes back as ``math.inf``)."""
        score = self._client.zscore(self._keys.place(place), job_id)
        return None if score is None else float(score)

    def registry_add(self, place: Place, job_id: str, score: float) -> None:
        """ZADD the id with the score."""
        self._client.zadd(self._keys.place(place), {job_id: codec.score(score)})

    def registry_remove(self, place: Place, job_id: str) -> bool:
        """ZREM the id."""
        return bool(self._client.zrem(self._keys.place(place), job_id))

    def registry_expired(self, place: Place, before: float) -> list[str]:
        """ZRANGEBYSCORE -inf ``before``."""
        ids = cast(
            "list[bytes]", self._client.zrangebyscore(self._keys.place(place), "-inf", codec.score(before))
        )
        return [codec.text(job_id) for job_id in ids]

    def registry_cleanup(self, place: Place, before: float) -> list[str]:
        """Remove and return the expired ids (one script)."""
        ids = self._scripts("registry_cleanup", [self._keys.place(place)], [codec.score(before)])
        return [codec.text(job_id) for job_id in ids]

    def transition(self, change: Transition) -> bool:
        """Move a job and update its record (one script, see ``lua/transition.lua``)."""
        keys, job_id = self._keys, change.job_id
        record = keys.job(job_id)
        target = change.target
        script_keys = [
            record,
            keys.results(job_id),
            keys.dependents(job_id),
            keys.dependencies(job_id),
            record if change.source is None else keys.place(change.source),
            record if target is None else keys.place(target),
            keys.wake(target.queue) if target is not None and target.is_queue else record,
            keys.queues,
        ]
        args: list[Arg] = [
            job_id,
            codec.place_kind(change.source),
            codec.place_kind(target),
            "" if target is None else target.queue,
            codec.score(change.score),
            codec.flag(change.at_front),
            codec.flag(change.execution_id is not None),
            change.execution_id or "",
            codec.transition_ttl(change.record_ttl),
            codec.flag(change.result is not None),
            change.result if change.result is not None else b"",
            RESULTS_KEPT - 1,
            DependentsPolicy(change.dependents).value,
            *self._dependent_templates,
            int(change.default_failure_ttl),
            codec.score(time.time() if change.now is None else change.now),
            *codec.pairs(change.fields),
            len(change.delete_fields),
            *change.delete_fields,
            *codec.pairs(change.released_fields),
            *codec.pairs(change.canceled_fields),
        ]
        return bool(self._scripts("transition", script_keys, args))

    def promote_scheduled(
        self, queue: str, now: float, fields: Mapping[str, bytes], limit: int = 100
    ) -> list[str]:
        """Queue up to ``limit`` due scheduled jobs (one script)."""
        if limit <= 0:
            return []
        keys = self._keys
        script_keys = [
            keys.registry(PlaceKind.SCHEDULED, queue),
            keys.queue(queue),
            keys.wake(queue),
            keys.queues,
        ]
        args: list[Arg] = [queue, codec.score(now), limit, self._job_template, *codec.pairs(fields)]
        return [codec.text(job_id) for job_id in self._scripts("promote_scheduled", script_keys, args)]
