"""The production broker: :class:`jq.broker.Broker` on Redis (or a fakeredis client).

Every state change is one round trip: a Lua script from ``lua/`` (see :mod:`.scripts`) for each
method the contract marks ATOMIC and that reads before it writes, one ``MULTI`` for the others, one
pipeline for the methods that take many ids. Key names come from :class:`jq_backends.keys.KeySpace`.

A blocked :meth:`RedisBroker.claim` does not poll: each queue has a wake key holding at most one
token, pushed by every script that puts an id on the queue. The claimer runs the claim script, and
when it finds nothing it blocks in ``BLPOP`` on the wake keys of its queues, then tries again.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, cast

import redis

from jq.broker import (
    RESULTS_KEPT,
    Broker,
    Claimed,
    DependentsPolicy,
    EnqueueOutcome,
    EnqueueRequest,
    Place,
    PlaceKind,
    Record,
    Transition,
)
from jq_backends.keys import DEFAULT_PREFIX, KeyNames, KeySpace
from jq_backends.redis import codec
from jq_backends.redis.connection import (
    binary_twin,
    client_url,
    decodes_responses,
    is_fake,
    redact_url,
    socket_timeout,
)
from jq_backends.redis.scripts import Arg, ScriptRunner

__all__ = ["RedisBroker"]

# A BLPOP timeout of 0 blocks forever; never ask for less than this (Redis counts milliseconds).
_MIN_BLOCK = 0.01


# One broker per client object for for_client(). Values are weak: a broker holds its client, so a
# strong value would keep every client ever seen (and its broker) alive forever.
_BROKERS: weakref.WeakKeyDictionary[redis.Redis, weakref.ref[RedisBroker]] = weakref.WeakKeyDictionary()
_BROKERS_LOCK = threading.Lock()


class RedisBroker(KeyNames, Broker):
    """A :class:`jq.broker.Broker` storing everything in one Redis database under ``prefix``.

    :param client: a redis-py client (a fakeredis client works too). Job data is binary, so when
        the client decodes replies (``decode_responses=True``) the broker talks through a twin
        client with the same connection settings that does not decode (its own connection pool,
        closed by :meth:`close`); :attr:`connection` is still the client given.
    :param prefix: the start of every key name. On Redis Cluster, give a hash tag (``"{jq}:"``):
        several scripts touch keys of many jobs and queues, which must then share one slot.
    """

    def __init__(self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._connection = client
        self._keys = KeySpace(prefix)
        self._twin = binary_twin(client) if decodes_responses(client) else None
        self._client: redis.Redis = self._twin if self._twin is not None else client
        self._owns_connection = False
        self._scripts = ScriptRunner(self._client)
        self._url = client_url(client)
        self._socket_timeout = socket_timeout(self._client)
        # A fakeredis server lives in this process: a forked work horse would see a copy.
        self.shares_across_processes = not is_fake(client)
        keys = self._keys
        self._job_template = keys.template("job")
        self._dependency_templates: list[Arg] = [
            keys.template("job"),
            keys.template("dependencies"),
            keys.template("queue"),
            keys.template(PlaceKind.DEFERRED.value),
            keys.template("wake"),
        ]
        self._job_data_templates: list[Arg] = [
            keys.template("job"),
            keys.template("results"),
            keys.template("dependents"),
            keys.template("dependencies"),
        ]

    @classmethod
    def from_url(cls, url: str, *, prefix: str = DEFAULT_PREFIX, **options: Any) -> RedisBroker:
        """A broker on a new client for ``redis://``, ``rediss://`` or ``unix://`` ``url``.

        ``options`` go to :meth:`redis.Redis.from_url` (``socket_timeout=``, ``ssl_ca_certs=``...).
        The broker owns the client: :meth:`close` closes it. :attr:`url` hides the password.
        """
        scheme, separator, rest = url.partition("://")
        if separator:  # redis-py only knows lower-case schemes; URL schemes are case-insensitive
            url = f"{scheme.lower()}://{rest}"
        broker = cls(redis.Redis.from_url(url, **options), prefix=prefix)
        broker._url = redact_url(url)
        broker._owns_connection = True
        return broker

    @classmethod
    def for_client(cls, client: redis.Redis) -> RedisBroker:
        """The broker for ``client`` with the default prefix: the same object for the same client.

        Thread-safe. The broker is kept while something (a queue, a job) still refers to it, so
        every ``Queue(connection=client)`` alive at once shares one broker and its scripts.
        """
        with _BROKERS_LOCK:
            reference = _BROKERS.get(client)
            broker = reference() if reference is not None else None
            if broker is None:
                broker = cls(client)
                _BROKERS[client] = weakref.ref(broker)
            return broker

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._url!r}, prefix={self._keys.prefix!r})"

    # -- identity ---------------------------------------------------------------------------------

    @property
    def connection(self) -> redis.Redis:
        """The redis-py client this broker was given (the decoding one, when it decodes)."""
        return self._connection

    @property
    def url(self) -> str:
        """The server and database, without password (``fakeredis:///0`` for a fake server)."""
        return self._url

    @property
    def keys(self) -> KeySpace:
        """The key names this broker stores under."""
        return self._keys

    def ping(self) -> None:
        """Send PING; raises :class:`redis.ConnectionError` when the server does not answer."""
        self._client.ping()

    def close(self) -> None:
        """Close the clients this broker created (from :meth:`from_url`, or the binary twin)."""
        if self._twin is not None:
            self._twin.close()
        if self._owns_connection:
            self._connection.close()

    # -- job records ------------------------------------------------------------------------------

    def save_job(self, job_id: str, fields: Mapping[str, bytes], record_ttl: int | None = None) -> None:
        """Replace the record, keeping results and places (one MULTI).

        The record's expiry (or none) applies to its results and dependency sets as well: they
        live exactly as long as the record.
        """
        keys = self._keys
        key = keys.job(job_id)
        pipe = self._client.pipeline(transaction=True)
        pipe.delete(key)
        if fields:
            pipe.hset(key, items=[part for pair in fields.items() for part in pair])
        expiry = codec.expiry(record_ttl)
        for data_key in (key, keys.results(job_id), keys.dependents(job_id), keys.dependencies(job_id)):
            if expiry:
                pipe.pexpire(data_key, int(expiry))
            else:
                pipe.persist(data_key)
        pipe.execute()

    def update_job(self, job_id: str, fields: Mapping[str, bytes]) -> bool:
        """Write fields onto an existing record (one script); False when there is none."""
        return bool(self._scripts("update_job", [self._keys.job(job_id)], codec.pairs(fields)))

    def load_job(self, job_id: str) -> Record | None:
        """The record (HGETALL), or None."""
        raw = cast("dict[bytes, bytes]", self._client.hgetall(self._keys.job(job_id)))
        return codec.record_from_hash(raw)

    def load_jobs(self, job_ids: Sequence[str]) -> list[Record | None]:
        """Many records in one pipeline, in the order given."""
        if not job_ids:
            return []
        pipe = self._client.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hgetall(self._keys.job(job_id))
        return [codec.record_from_hash(raw) for raw in pipe.execute()]

    def load_job_fields(self, job_id: str, names: Sequence[str]) -> list[bytes | None] | None:
        """Some fields (HMGET) and whether the record exists, in one MULTI."""
        key = self._keys.job(job_id)
        if not names:
            return [] if self.job_exists(job_id) else None
        pipe = self._client.pipeline(transaction=True)
        pipe.exists(key)
        pipe.hmget(key, list(names))
        exists, values = pipe.execute()
        return list(values) if exists else None

    def job_exists(self, job_id: str) -> bool:
        """Whether the record exists (EXISTS)."""
        return bool(self._client.exists(self._keys.job(job_id)))

    def job_ttl(self, job_id: str) -> float | None:
        """Seconds until the record expires (PTTL), None with no expiry or no record."""
        remaining = self._client.pttl(self._keys.job(job_id))
        return None if remaining < 0 else remaining / 1000

    def load_results(self, job_id: str) -> list[bytes]:
        """The result entries, newest first; empty when the record is gone (one MULTI)."""
        pipe = self._client.pipeline(transaction=True)
        pipe.exists(self._keys.job(job_id))
        pipe.lrange(self._keys.results(job_id), 0, -1)
        exists, entries = pipe.execute()
        return list(entries) if exists else []

    def delete_job(self, job_id: str, places: Sequence[Place] = ()) -> bool:
        """Remove the id from ``places`` and delete record, results and dependency sets (one script)."""
        keys = self._keys
        script_keys = [
            keys.job(job_id),
            keys.results(job_id),
            keys.dependents(job_id),
            keys.dependencies(job_id),
            *(keys.place(place) for place in places),
        ]
        args: list[Arg] = [job_id, *(codec.place_kind(place) for place in places)]
        return bool(self._scripts("delete_job", script_keys, args))

    def dependent_ids(self, job_id: str) -> list[str]:
        """Ids in the job's set of dependents (SMEMBERS), sorted."""
        ids = cast("set[bytes]", self._client.smembers(self._keys.dependents(job_id)))
        return sorted(codec.text(dependent) for dependent in ids)

    # -- queues -----------------------------------------------------------------------------------

    def _enqueue_call(self, request: EnqueueRequest) -> tuple[list[str], list[Arg]]:
        keys, job_id, queue = self._keys, request.job_id, request.queue
        script_keys = [
            keys.job(job_id),
            keys.queue(queue),
            keys.wake(queue),
            keys.queues,
            keys.registry(PlaceKind.DEFERRED, queue),
            keys.registry(PlaceKind.SCHEDULED, queue),
            keys.registry(PlaceKind.CANCELED, queue),
            keys.dependencies(job_id),
            keys.results(job_id),
            keys.dependents(job_id),
        ]
        for dependency in request.depends_on:
            script_keys += [keys.job(dependency), keys.dependents(dependency)]
        args: list[Arg] = [
            job_id,
            queue,
            codec.expiry(request.record_ttl),
            codec.flag(request.at_front),
            "" if request.scheduled_at is None else codec.score(request.scheduled_at),
            codec.flag(request.allow_failure),
            # The contract passes no time for the informational deferred score: use this clock.
            codec.score(time.time()),
            len(request.depends_on),
            *request.depends_on,
            *codec.pairs(request.fields),
        ]
        return script_keys, args

    @staticmethod
    def _enqueue_outcome(reply: Sequence[bytes]) -> EnqueueOutcome:
        status = codec.text(reply[0])
        if not status:
            return EnqueueOutcome(None, tuple(codec.text(job_id) for job_id in reply[1:]))
        return EnqueueOutcome(status)

    def enqueue(self, request: EnqueueRequest) -> EnqueueOutcome:
        """Store and place a job (one script, see ``lua/enqueue.lua``)."""
        reply = self._scripts("enqueue", *self._enqueue_call(request))
        return self._enqueue_outcome(reply)

    def enqueue_many(self, requests: Sequence[EnqueueRequest]) -> list[EnqueueOutcome]:
        """Each request as its own script call, all in one ``MULTI`` pipeline: one round trip.

        The batch is atomic as a whole too, except when the server had lost the script (restart,
        ``SCRIPT FLUSH``): then the calls it refused are sent again after loading it.
        """
        if not requests:
            return []
        replies = self._scripts.run_many("enqueue", [self._enqueue_call(request) for request in requests])
        return [self._enqueue_outcome(reply) for reply in replies]

    def _claim_once(self, queues: Sequence[str], fields: Mapping[str, bytes], lease: str) -> Claimed | None:
        keys = self._keys
        script_keys: list[str] = []
        for queue in queues:
            script_keys += [keys.queue(queue), keys.registry(PlaceKind.STARTED, queue), keys.wake(queue)]
        args: list[Arg] = [lease, *self._job_data_templates, *codec.pairs(fields), *queues]
        reply = self._scripts("claim", script_keys, args)
        if reply is None:
            return None
        queue, job_id, flat = reply
        return Claimed(codec.text(job_id), codec.text(queue), codec.record_from_flat(flat))

    def _block_limit(self) -> float:
        """The longest BLPOP that cannot outlast the client's socket timeout (which would raise)."""
        if self._socket_timeout is None:
            return math.inf
        return max(self._socket_timeout / 2, self._socket_timeout - 1.0)

    def claim(
        self,
        queues: Sequence[str],
        fields: Mapping[str, bytes],
        lease_until: float,
        wait: float | None = None,
    ) -> Claimed | None:
        """Claim the next job of the first non-empty queue (one script when a job is there).

        With ``wait``, when every queue is empty, block in BLPOP on the queues' wake keys and try
        again when a token comes or a BLPOP times out, until a job is claimed or the time is up.
        """
        if not queues:
            return None
        lease = codec.score(lease_until)
        claimed = self._claim_once(queues, fields, lease)
        if claimed is not None or not wait or wait <= 0:
            return claimed
        deadline = time.monotonic() + wait
        wake_keys = [self._keys.wake(queue) for queue in queues]
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._client.blpop(wake_keys, timeout=max(_MIN_BLOCK, min(remaining, self._block_limit())))
            claimed = self._claim_once(queues, fields, lease)
            if claimed is not None:
                return claimed

    def claim_job(
        self, job_id: str, queue: str, fields: Mapping[str, bytes], lease_until: float
    ) -> Record | None:
        """Claim one given job (one script, see ``lua/claim_job.lua``)."""
        keys = self._keys
        script_keys = [
            keys.job(job_id),
            keys.queue(queue),
            keys.registry(PlaceKind.STARTED, queue),
            keys.wake(queue),
            keys.results(job_id),
            keys.dependents(job_id),
            keys.dependencies(job_id),
        ]
        args: list[Arg] = [job_id, codec.score(lease_until), *codec.pairs(fields)]
        reply = self._scripts("claim_job", script_keys, args)
        return None if reply is None else codec.record_from_flat(reply)

    def extend_lease(self, queue: str, job_id: str, execution_id: str, lease_until: float) -> bool:
        """Move the lease deadline of this execution of the job (one script)."""
        script_keys = [self._keys.registry(PlaceKind.STARTED, queue), self._keys.job(job_id)]
        return bool(
            self._scripts("extend_lease", script_keys, [job_id, execution_id, codec.score(lease_until)])
        )

    def queue_length(self, queue: str) -> int:
        """LLEN of the queue."""
        return self._client.llen(self._keys.queue(queue))

    def queue_job_ids(self, queue: str, start: int = 0, end: int = -1) -> list[str]:
        """LRANGE of the queue."""
        ids = cast("list[bytes]", self._client.lrange(self._keys.queue(queue), start, end))
        return [codec.text(job_id) for job_id in ids]

    def queue_position(self, queue: str, job_id: str) -> int | None:
        """LPOS of the id in the queue."""
        return cast("int | None", self._client.lpos(self._keys.queue(queue), job_id))

    def queue_names(self) -> list[str]:
        """The known queue names, sorted."""
        names = cast("set[bytes]", self._client.smembers(self._keys.queues))
        return sorted(codec.text(name) for name in names)

    def _drop_queue(self, queue: str, *, delete_jobs: bool, forget: bool) -> int:
        keys = self._keys
        script_keys = [keys.queue(queue), keys.wake(queue), keys.queues]
        args: list[Arg] = [queue, codec.flag(delete_jobs), codec.flag(forget), *self._job_data_templates]
        return int(self._scripts("drop_queue", script_keys, args))

    def empty_queue(self, queue: str) -> int:
        """Remove every id and delete those jobs' records, results and dependency sets (one script)."""
        return self._drop_queue(queue, delete_jobs=True, forget=False)

    def delete_queue(self, queue: str, delete_jobs: bool) -> None:
        """Forget the queue, its ids and optionally its jobs (one script)."""
        self._drop_queue(queue, delete_jobs=delete_jobs, forget=True)

    # -- registries and transitions ---------------------------------------------------------------

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
            *self._dependency_templates,
            *codec.pairs(change.fields),
            len(change.delete_fields),
            *change.delete_fields,
            *codec.pairs(change.released_fields),
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

    # -- workers ----------------------------------------------------------------------------------

    def register_worker(
        self, name: str, fields: Mapping[str, bytes], queues: Sequence[str], ttl: float
    ) -> bool:
        """Register a live worker and index it by queue (one script)."""
        keys = self._keys
        script_keys = [
            keys.worker(name),
            keys.worker_queues(name),
            keys.workers,
            *(keys.workers_of(queue) for queue in queues),
        ]
        args: list[Arg] = [name, codec.milliseconds(ttl), len(queues), *queues, *codec.pairs(fields)]
        return bool(self._scripts("register_worker", script_keys, args))

    def heartbeat_worker(
        self,
        name: str,
        fields: Mapping[str, bytes],
        ttl: float,
        increments: Mapping[str, float] | None = None,
    ) -> bool:
        """Extend a live worker's expiry, write fields and add increments (one script)."""
        script_keys = [self._keys.worker(name), self._keys.worker_queues(name)]
        numbers = {field: repr(float(amount)) for field, amount in (increments or {}).items()}
        args: list[Arg] = [codec.milliseconds(ttl), *codec.pairs(fields), len(numbers)]
        for field, amount in numbers.items():
            args += [field, amount]
        return bool(self._scripts("heartbeat_worker", script_keys, args))

    def unregister_worker(self, name: str) -> None:
        """Delete the worker's record and its index entries (one script)."""
        keys = self._keys
        script_keys = [keys.worker(name), keys.worker_queues(name), keys.workers]
        self._scripts("unregister_worker", script_keys, [name, keys.template("workers-of")])

    def worker_names(self, queue: str | None = None) -> list[str]:
        """Live workers, sorted; prunes names whose record expired (one script)."""
        keys = self._keys
        index = keys.workers if queue is None else keys.workers_of(queue)
        args: list[Arg] = [
            keys.template("worker"),
            keys.template("worker-queues"),
            codec.flag(queue is not None),
            queue or "",
        ]
        return sorted(codec.text(name) for name in self._scripts("worker_names", [index], args))

    def load_workers(self, names: Sequence[str]) -> list[Record | None]:
        """Many worker records in one pipeline, in the order given."""
        if not names:
            return []
        pipe = self._client.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(self._keys.worker(name))
        return [codec.worker_record(raw) for raw in pipe.execute()]
