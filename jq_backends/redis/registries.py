"""The Redis driver's registries and moves: :class:`jq.broker.RegistryStore` on sorted sets."""

from __future__ import annotations

import functools
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
    Resolution,
    Settlement,
    Tally,
    ToQueue,
    Transition,
)
from jq.defaults import DEFAULT_FAILURE_TTL
from jq_backends.keys import HISTORY_HOURS, HISTORY_MINUTES, TOTALS, counts_name
from jq_backends.redis import codec
from jq_backends.redis._base import RedisState
from jq_backends.redis.scripts import Arg, refused_writes
from jq_backends.redis.wire import Flag, PlaceLetter, PolicyLetter

__all__ = ["RedisRegistries"]

# What a record of counts per minute and per hour spans (see jq.broker.history).
_MINUTES_SPAN, _HOURS_SPAN = Resolution.MINUTE.span, Resolution.HOUR.span

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
        """ZADD the id with the score (under ``wait_replicas``: ``lua/registry_entry.lua``, which
        waits)."""
        if self._waits:
            self._scripts("registry_entry", [self._keys.place(place)], ["add", codec.score(score), job_id])
            return
        with refused_writes(f"adding job {job_id} to a registry"):
            self._client.zadd(self._keys.place(place), {job_id: codec.score(score)})

    def registry_update_score(self, place: Place, job_id: str, score: float) -> bool:
        """ZADD XX CH: a new score for an id that is there (one command; under ``wait_replicas``:
        ``lua/registry_entry.lua``, which waits)."""
        key = self._keys.place(place)
        if self._waits:
            return bool(self._scripts("registry_entry", [key], ["rescore", codec.score(score), job_id]))
        # CH counts changed scores, so an unchanged score would read as "not there": ask again.
        with refused_writes(f"rescoring job {job_id} in a registry"):
            changed = self._client.zadd(key, {job_id: codec.score(score)}, xx=True, ch=True)
        return bool(changed) or self._client.zscore(key, job_id) is not None

    def registry_remove(self, place: Place, job_id: str) -> bool:
        """ZREM the id (under ``wait_replicas``: ``lua/registry_entry.lua``, which waits)."""
        if self._waits:
            return bool(self._scripts("registry_entry", [self._keys.place(place)], ["remove", job_id]))
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
        k, job_id, edit, settlement = self._keys, change.job_id, change.edit, change.settlement
        keys = k.job_data(job_id)
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
            keys.append(k.worker(change.worker.name))
            args += codec.worker_args(change.worker)
        if change.tally is not None:
            flags += Flag.TALLY
            self._tally_part(change.tally, keys, args)
        ttl_letter, expiry_ms = codec.transition_ttl(edit.record_ttl)
        if expiry_ms is not None:
            args.append(expiry_ms)
        if edit.delete_fields:
            flags += Flag.DELETE_FIELDS
            args += [len(edit.delete_fields), *edit.delete_fields]
        args += codec.flat(edit.fields) if last else codec.pairs(edit.fields)
        args[0] = f"{mode}{ttl_letter}{flags}"
        return keys, args

    @functools.cached_property
    def _tally_templates(self) -> tuple[str, str, str]:
        """The templates of a queue's totals and of its records of counts per minute and per hour
        (built by :class:`~jq_backends.keys.KeySpace`)."""
        return (
            self._keys.template(TOTALS),
            self._keys.template(HISTORY_MINUTES),
            self._keys.template(HISTORY_HOURS),
        )

    def _tally_part(self, tally: Tally, keys: list[str], args: list[Arg]) -> None:
        """The tally's part of a transition's call, added to ``keys`` and ``args`` as
        ``lua/lib_history.lua``'s next_tally reads them: the records that count it, by the
        broker's clock (or the tally's own time) in whole seconds, which the script also gets to
        find the buckets in them."""
        at = int(self._clock() if tally.at is None else tally.at)
        queue = tally.queue
        totals, minutes, hours = self._tally_templates
        keys += [
            totals + queue,
            minutes + counts_name(at - at % _MINUTES_SPAN, queue),
            hours + counts_name(at - at % _HOURS_SPAN, queue),
        ]
        args += [tally.function, tally.code, "" if tally.run_time is None else tally.microseconds, at]

    def _move_part(self, move: Move, settles: bool, keys: list[str], args: list[Arg]) -> tuple[str, str]:
        """The move's part of a transition's call, added to ``keys`` and ``args``: the source's
        key, the target's (and a queue's wake key), the set of known queues when the job goes to
        a queue or the transition ``settles`` dependents, a registry's score. Returns the mode's
        source and target letters, and its flags so far (to a queue's front)."""
        k, source, target = self._keys, move.source, move.target
        if source is None:
            letters = PlaceLetter.NONE
        else:
            keys.append(k.place(source))
            letters = PlaceLetter.QUEUE if source.kind is PlaceKind.QUEUE else PlaceLetter.REGISTRY
        if target is None:
            letters += PlaceLetter.NONE
        elif isinstance(target, ToQueue):
            keys += [k.queue(target.queue), k.wake(target.queue), k.queues]
            return letters + PlaceLetter.QUEUE, Flag.AT_FRONT if target.at_front else ""
        else:
            keys.append(k.place(target.place))
            args.append(codec.score(target.score))
            letters += PlaceLetter.REGISTRY
        if settles:
            keys.append(k.queues)
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
        keys = [self._keys.registry(PlaceKind.DEFERRED, queue), self._keys.queues]
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
        k = self._keys
        script_keys = [k.registry(PlaceKind.SCHEDULED, queue), k.queue(queue), k.wake(queue), k.queues]
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
