"""The Redis driver's job records: :class:`jq.broker.JobStore` on Redis.

A job is a hash of readable fields at ``job.key``, with its result entries in a list and its
dependents and unmet dependencies in two sets, all under the record's expiry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

import redis
from redis.client import Pipeline

from jq.broker import DependentsPolicy, JobStore, Place, PlaceKind, Record, settlement_for
from jq.defaults import DEFAULT_FAILURE_TTL
from jq.exceptions import DeserializationError, StoreDataError
from jq_backends.redis import codec
from jq_backends.redis._base import RedisState, is_wrong_type
from jq_backends.redis.scripts import Arg, refused_writes
from jq_backends.redis.wire import Flag, PolicyLetter

__all__ = ["RedisJobs"]


class RedisJobs(RedisState, JobStore):
    """Job records, results and dependents on Redis: one command, MULTI or script per call."""

    def save_job(self, job_id: str, fields: Mapping[str, bytes], record_ttl: int | None = None) -> None:
        """Replace the record, keeping results and places (one MULTI).

        The record's expiry (or none) applies to its results and dependency sets as well: they
        live exactly as long as the record. Under ``wait_replicas``: one script that waits
        (``lua/save_job.lua``).
        """
        if self._waits:
            script_keys = self._keys.job_data(job_id)
            self._scripts("save_job", script_keys, [codec.expiry(record_ttl), *codec.flat(fields)])
            return
        pipe = self._client.pipeline(transaction=True)
        self._save_commands(pipe, job_id, fields, record_ttl)
        with refused_writes(f"saving job {job_id}"):
            pipe.execute()

    def _save_commands(
        self, pipe: Pipeline, job_id: str, fields: Mapping[str, bytes], record_ttl: int | None
    ) -> None:
        """Queue the commands of :meth:`save_job` on ``pipe``."""
        data_keys = self._keys.job_data(job_id)
        key = data_keys[0]
        pipe.delete(key)
        if fields:
            pipe.hset(key, items=[part for pair in fields.items() for part in pair])
        expiry = codec.expiry(record_ttl)
        for data_key in data_keys:
            if expiry:
                pipe.pexpire(data_key, int(expiry))
            else:
                pipe.persist(data_key)

    def update_job(self, job_id: str, fields: Mapping[str, bytes]) -> bool:
        """Write fields onto an existing record (one script); False when there is none."""
        return bool(self._scripts("update_job", [self._keys.job(job_id)], codec.pairs(fields)))

    def load_job(self, job_id: str) -> Record | None:
        """The record (HGETALL), or None. A :class:`DeserializationError` when the job's key holds
        something else than a hash."""
        key = self._keys.job(job_id)
        try:
            raw = cast("dict[bytes, bytes]", self._client.hgetall(key))
        except redis.ResponseError as error:
            if not is_wrong_type(error):
                raise
            raise DeserializationError(
                f"job {job_id!r} cannot be read: {self._wrong_type(key, 'a hash')}"
            ) from None
        return codec.record_from_hash(raw)

    def load_jobs(self, job_ids: Sequence[str]) -> list[Record | None]:
        """Many records in one pipeline, in the order given."""
        raws = self._hgetall_many([self._keys.job(job_id) for job_id in job_ids])
        return [codec.record_from_hash(raw) for raw in raws]

    def load_job_fields(self, job_id: str, names: Sequence[str]) -> list[bytes | None] | None:
        """Some fields (HMGET) and whether the record exists, in one script (a read: it works
        while Redis is at maxmemory, where a MULTI would be refused)."""
        if not names:
            return [] if self.job_exists(job_id) else None
        key = self._keys.job(job_id)
        try:
            values = self._scripts("load_fields", [key], list(names))
        except StoreDataError:
            raise DeserializationError(
                f"job {job_id!r} cannot be read: {self._wrong_type(key, 'a hash')}"
            ) from None
        return None if values is None else list(values)

    def job_exists(self, job_id: str) -> bool:
        """Whether the record exists (EXISTS)."""
        return bool(self._client.exists(self._keys.job(job_id)))

    def job_ttl(self, job_id: str) -> float | None:
        """Seconds until the record expires (PTTL), None with no expiry or no record."""
        remaining = self._client.pttl(self._keys.job(job_id))
        return None if remaining < 0 else remaining / 1000

    def load_results(self, job_id: str) -> list[bytes]:
        """The result entries, newest first; empty when the record is gone (one pipeline, not a
        MULTI, which Redis at maxmemory refuses even for reads: results are deleted with their
        record, so a record deleted between the two reads shows its last results at most)."""
        pipe = self._client.pipeline(transaction=False)
        pipe.exists(self._keys.job(job_id))
        pipe.lrange(self._keys.results(job_id), 0, -1)
        exists, entries = pipe.execute()
        return list(entries) if exists else []

    def delete_job(
        self,
        job_id: str,
        places: Sequence[Place] = (),
        *,
        dependents: DependentsPolicy = DependentsPolicy.NONE,
        released_fields: Mapping[str, bytes] | None = None,
        canceled_fields: Mapping[str, bytes] | None = None,
        default_failure_ttl: int = DEFAULT_FAILURE_TTL,
        now: float | None = None,
    ) -> bool:
        """Remove the id from ``places``, settle its dependents under the ``dependents`` policy,
        and delete record, results and dependency sets (one script)."""
        call = self._delete_call(
            job_id, places, dependents, released_fields, canceled_fields, default_failure_ttl, now
        )
        return bool(self._scripts("delete_job", *call))

    def _delete_call(
        self,
        job_id: str,
        places: Sequence[Place],
        dependents: DependentsPolicy,
        released_fields: Mapping[str, bytes] | None,
        canceled_fields: Mapping[str, bytes] | None,
        default_failure_ttl: int,
        now: float | None,
    ) -> tuple[list[str], list[Arg]]:
        """The KEYS and ARGV of ``lua/delete_job.lua`` for :meth:`delete_job`."""
        keys = self._keys
        script_keys = keys.job_data(job_id)
        settlement = settlement_for(dependents, canceled_fields, default_failure_ttl, now)
        mode: str = PolicyLetter.NONE
        args: list[Arg] = [""]
        if settlement is not None:
            script_keys.append(keys.queues)
            mode = codec.policy_letter(settlement.policy)
            args += codec.settlement(settlement, self._clock() if settlement.now is None else settlement.now)
        if released_fields:
            mode += Flag.RELEASED  # on the dependents released and the jobs a freed slot admits
            args += codec.pairs(released_fields)
        args[0] = mode
        # A job reserved from a queue is still in it (see jq.broker.Reservation).
        reserved = [Place(PlaceKind.RESERVED, place.queue) for place in places if place.is_queue]
        places = [*places, *(place for place in reserved if place not in places)]
        script_keys += [keys.place(place) for place in places]
        args += [codec.place_kind(place) for place in places]
        return script_keys, args

    def dependent_ids(self, job_id: str) -> list[str]:
        """Ids in the job's set of dependents (SMEMBERS), sorted."""
        ids = cast("set[bytes]", self._client.smembers(self._keys.dependents(job_id)))
        return sorted(codec.text(dependent) for dependent in ids)
