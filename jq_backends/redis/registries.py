"""The Redis driver's registries and moves: :class:`jq.broker.RegistryStore` on sorted sets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from jq.broker import (
    RESULTS_KEPT,
    Place,
    RegistryStore,
    Transition,
)
from jq.defaults import DEFAULT_FAILURE_TTL
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

    def registry_update_score(self, place: Place, job_id: str, score: float) -> bool:
        """ZADD XX CH: a new score for an id that is there (one command)."""
        key = self._keys.place(place)
        # CH counts changed scores, so an unchanged score would read as "not there": ask again.
        changed = self._client.zadd(key, {job_id: codec.score(score)}, xx=True, ch=True)
        return bool(changed) or self._client.zscore(key, job_id) is not None

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

    def _transition_call(self, change: Transition, *, last: bool = True) -> tuple[list[str], list[Arg]]:
        """The transition's KEYS and ARGV as lib_transition.lua reads them: the mode,
        then only the parts it calls for; its fields run to the end of ARGV when it is the ``last``
        part of the call, else their count comes first."""
        t, job_id = self._t, change.job_id
        keys = [t.job + job_id, t.results + job_id, t.dependents + job_id, t.dependencies + job_id]
        source, target = change.source, change.target
        policy = codec.policy_letter(change.dependents)
        ttl_letter, expiry_ms = codec.transition_ttl(change.record_ttl)
        args: list[Arg] = [""]
        if source is not None:
            keys.append(t.places[source.kind] + source.queue)
        to_queue = target is not None and target.is_queue
        if target is not None:
            keys.append(t.places[target.kind] + target.queue)
            if to_queue:
                keys.append(t.wake + target.queue)
            else:
                args.append(codec.score(change.score))
        if to_queue or policy != "-":
            keys.append(t.queues)
        flags = "F" if change.at_front else ""
        if change.execution_id is not None:
            flags += "E"
            args.append(change.execution_id)
        if expiry_ms is not None:
            args.append(expiry_ms)
        if change.result is not None:
            flags += "R"
            args.append(change.result)
            if change.results_kept != RESULTS_KEPT:
                flags += "K"
                args.append(max(int(change.results_kept), 1))
        if policy != "-":
            args += codec.settlement(
                policy, change.released_fields, change.canceled_fields, change.default_failure_ttl
            )
            # A canceled dependent's score counts from now: under 'v' it is always sent. Under
            # 'f' and 'x' the script reads the server's clock if a released dependent has a time.
            if policy == "v" or change.now is not None:
                flags += "N"
                args.append(codec.score(self._clock() if change.now is None else change.now))
        elif change.released_fields:
            flags += "A"  # for the jobs a freed rate-limit slot admits
            args += codec.pairs(change.released_fields)
        if change.leave_dependencies:
            flags += "L"
        if change.delete_fields:
            flags += "D"
            args += [len(change.delete_fields), *change.delete_fields]
        if change.worker is not None:
            flags += "W"
            keys.append(t.worker + change.worker.name)
            args += codec.worker_args(change.worker)
        args += codec.flat(change.fields) if last else codec.pairs(change.fields)
        args[0] = f"{codec.place_letter(source)}{codec.place_letter(target)}{policy}{ttl_letter}{flags}"
        return keys, args

    def transition(self, change: Transition) -> bool:
        """Move a job and update its record (one script, see ``lua/transition.lua``)."""
        return bool(self._scripts("transition", *self._transition_call(change)))

    def settle_orphans(
        self,
        queue: str,
        *,
        released_fields: Mapping[str, bytes],
        canceled_fields: Mapping[str, bytes],
        default_failure_ttl: int = DEFAULT_FAILURE_TTL,
        now: float | None = None,
    ) -> list[str]:
        """Settle the deferred jobs of ``queue`` waiting for a job with no record (one script)."""
        keys = [self._t.deferred + queue, self._t.queues]
        args = codec.settlement("v", released_fields, canceled_fields, default_failure_ttl)
        args.append(codec.score(self._clock() if now is None else now))
        return [codec.text(job_id) for job_id in self._scripts("settle_orphans", keys, args)]

    def promote_scheduled(
        self, queue: str, now: float | None, fields: Mapping[str, bytes], limit: int = 100
    ) -> list[str]:
        """Queue up to ``limit`` due scheduled jobs (one script; due by the server's ``TIME``
        when ``now`` is None)."""
        if limit <= 0:
            return []
        t = self._t
        script_keys = [t.scheduled + queue, t.queue + queue, t.wake + queue, t.queues]
        args: list[Arg] = ["" if now is None else codec.score(now), limit, *codec.flat(fields)]
        return [codec.text(job_id) for job_id in self._scripts("promote_scheduled", script_keys, args)]
