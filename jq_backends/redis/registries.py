"""The Redis driver's registries and moves: :class:`jq.broker.RegistryStore` on sorted sets."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import cast

from jq.broker import (
    RESULTS_KEPT,
    Cancellation,
    DependentsPolicy,
    Move,
    Place,
    PlaceKind,
    RegistryStore,
    Settlement,
    ToQueue,
    Transition,
)
from jq.defaults import DEFAULT_FAILURE_TTL
from jq_backends.redis import codec
from jq_backends.redis._base import RedisState
from jq_backends.redis.scripts import Arg, refused_writes
from jq_backends.redis.wire import Flag, PlaceLetter, PolicyLetter

__all__ = ["RedisRegistries"]

logger = logging.getLogger("jq.broker.redis")


class RedisRegistries(RedisState, RegistryStore):
    """Registry reads and writes (one command each), transitions and promotions (one script each)."""

    def registry_ids(self, place: Place, start: int = 0, end: int = -1) -> list[str]:
        """ZRANGE of the registry."""
        ids = cast("list[bytes]", self._client.zrange(self._keys.place(place), start, end))
        return [codec.text(job_id) for job_id in ids]

    def registry_count(self, place: Place) -> int:
        """ZCARD of the registry."""
        return self._client.zcard(self._keys.place(place))

    def place_counts(self, places: Sequence[Place]) -> list[int]:
        """LLEN or ZCARD of each place, in one pipeline (not a transaction)."""
        if not places:
            return []
        pipe = self._client.pipeline(transaction=False)
        for place in places:
            key = self._keys.place(place)
            if place.is_queue:
                pipe.llen(key)
            else:
                pipe.zcard(key)
        return [int(count) for count in pipe.execute()]

    def registry_score(self, place: Place, job_id: str) -> float | None:
        """ZSCORE of the id (``inf`` comes back as ``math.inf``)."""
        score = self._client.zscore(self._keys.place(place), job_id)
        return None if score is None else float(score)

    def registry_add(self, place: Place, job_id: str, score: float) -> None:
        """ZADD the id with the score."""
        with refused_writes(f"adding job {job_id} to a registry"):
            self._client.zadd(self._keys.place(place), {job_id: codec.score(score)})

    def registry_update_score(self, place: Place, job_id: str, score: float) -> bool:
        """ZADD XX CH: a new score for an id that is there (one command)."""
        key = self._keys.place(place)
        # CH counts changed scores, so an unchanged score would read as "not there": ask again.
        with refused_writes(f"rescoring job {job_id} in a registry"):
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
        """The transition's KEYS and ARGV as lib_transition.lua's next_transition reads them: the
        mode (its letters: :mod:`~jq_backends.redis.wire`), then only the parts it calls for, in
        the order of the transition's parts; the record's fields come last, running to the end of
        ARGV when the transition is the ``last`` part of the call, else counted first."""
        t, job_id, edit, settlement = self._t, change.job_id, change.edit, change.settlement
        keys = [t.job + job_id, t.results + job_id, t.dependents + job_id, t.dependencies + job_id]
        args: list[Arg] = [""]
        mode, flags = self._move_part(change.move, settlement is not None, keys, args)
        if change.execution_id is not None:
            flags += Flag.EXECUTION
            args.append(change.execution_id)
        result = change.result
        if result is not None:
            flags += Flag.RESULT
            args.append(result.encoded)
            if result.kept != RESULTS_KEPT:
                flags += Flag.RESULTS_KEPT
                args.append(max(int(result.kept), 1))
        if settlement is None:
            mode += PolicyLetter.NONE
        else:
            mode += codec.policy_letter(settlement.policy)
            # A canceled dependent's score counts from now: under VANISHED it is always sent. Under
            # the others the script reads the server's clock if a released dependent has a time.
            now = settlement.now
            if now is not None or settlement.cancellation is not None:
                flags += Flag.NOW
                now = self._clock() if now is None else now
            args += codec.settlement(settlement, now)
        if change.released_fields:
            flags += Flag.RELEASED  # on the dependents released and the jobs a freed rate-limit slot admits
            args += codec.pairs(change.released_fields)
        if change.leave_dependencies:
            flags += Flag.LEAVE_DEPENDENCIES
        if change.worker is not None:
            flags += Flag.WORKER
            keys.append(t.worker + change.worker.name)
            args += codec.worker_args(change.worker)
        ttl_letter, expiry_ms = codec.transition_ttl(edit.record_ttl)
        if expiry_ms is not None:
            args.append(expiry_ms)
        if edit.delete_fields:
            flags += Flag.DELETE_FIELDS
            args += [len(edit.delete_fields), *edit.delete_fields]
        args += codec.flat(edit.fields) if last else codec.pairs(edit.fields)
        args[0] = f"{mode}{ttl_letter}{flags}"
        return keys, args

    def _move_part(self, move: Move, settles: bool, keys: list[str], args: list[Arg]) -> tuple[str, str]:
        """The move's part of a transition's call, added to ``keys`` and ``args``: the source's
        key, the target's (and a queue's wake key), the set of known queues when the job goes to
        a queue or the transition ``settles`` dependents, a registry's score. Returns the mode's
        source and target letters, and its flags so far (to a queue's front)."""
        t, source, target = self._t, move.source, move.target
        if source is None:
            letters = PlaceLetter.NONE
        else:
            keys.append(t.places[source.kind] + source.queue)
            letters = PlaceLetter.QUEUE if source.kind is PlaceKind.QUEUE else PlaceLetter.REGISTRY
        if target is None:
            letters += PlaceLetter.NONE
        elif isinstance(target, ToQueue):
            keys += [t.queue + target.queue, t.wake + target.queue, t.queues]
            return letters + PlaceLetter.QUEUE, Flag.AT_FRONT if target.at_front else ""
        else:
            keys.append(t.places[target.place.kind] + target.place.queue)
            args.append(codec.score(target.score))
            letters += PlaceLetter.REGISTRY
        if settles:
            keys.append(t.queues)
        return letters, ""

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
        vanished = Settlement(
            DependentsPolicy.VANISHED, Cancellation(canceled_fields, default_failure_ttl), now
        )
        args = codec.settlement(vanished, self._clock() if now is None else now)
        args += codec.flat(released_fields)
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
        queued, dropped = self._scripts("promote_scheduled", script_keys, args)
        for i in range(0, len(dropped) - 1, 2):
            job_id, found = codec.text(dropped[i]), codec.text(dropped[i + 1])
            logger.warning(
                "queue %s: scheduled job %s was dropped from the scheduled registry: its key %s "
                "holds a %s, not a job's record (a hash); nothing of it can run. Inspect the key, "
                "then delete it",
                queue, job_id, self._keys.job(job_id), found,
            )  # fmt: skip
        return [codec.text(job_id) for job_id in queued]
