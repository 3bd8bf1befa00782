"""The Redis driver's queues: :class:`jq.broker.QueueStore` on a list per queue.

A blocked :meth:`RedisQueues.claim` does not poll: each queue has a wake key holding at most one
token, pushed by every script that puts an id on the queue. The claimer runs the claim script, and
when it finds nothing it blocks in ``BLPOP`` on the wake keys of its queues, then tries again.
"""

from __future__ import annotations

import logging
import math
import time
import weakref
from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any, cast

import redis

from jq.broker import (
    EXECUTION,
    RATE_LIMIT_KEY,
    Claimed,
    ClaimFields,
    ClaimLease,
    ClaimRequest,
    EnqueueOutcome,
    EnqueueRequest,
    PlaceKind,
    QueueStore,
    Record,
    RefusalReason,
    Reservation,
    Status,
    WorkerUpdate,
    claim_fields_now,
    claim_lease_now,
)
from jq.broker.base import check_plain_claim
from jq_backends.redis import codec
from jq_backends.redis._base import RedisState, is_wrong_type
from jq_backends.redis.failover import MasterChangedError, forget_connections, master_gone
from jq_backends.redis.scripts import Arg

__all__ = ["RedisQueues"]

logger = logging.getLogger("jq.broker.redis")

# What a claim reports of a key it could not use (see lib.lua's claim_next): what the key is.
_WANTED = {"queue": "a list (the queue)", "registry": "a sorted set (its started registry)"}

# The outcome of every request that enqueue_fresh.lua stored (outcomes are immutable).
_QUEUED = EnqueueOutcome(Status.QUEUED.value)

# What no request's record_ttl is (see RedisQueues._fresh).
_UNSEEN = object()

# A BLPOP timeout of 0 blocks forever; never ask for less than this (Redis counts milliseconds).
_MIN_BLOCK = 0.01
# How late a BLPOP may answer past its timeout: Redis checks blocked clients' deadlines in its
# server cron, 10 times a second by default (hz 10), so a 0.1 s BLPOP can take 0.2 s.
_BLOCK_SLACK = 0.15


def _lease(lease_until: ClaimLease) -> str:
    """A claim attempt's lease deadline as a score, computed now (see :data:`ClaimLease`)."""
    return codec.score(claim_lease_now(lease_until))


class RedisQueues(RedisState, QueueStore):
    """Enqueue, claim, leases and queue reads on Redis: one script per state change."""

    def _enqueue_call(self, request: EnqueueRequest, *, last: bool = True) -> tuple[list[str], list[Arg]]:
        """The KEYS and ARGV of one request as lib_enqueue.lua reads them: only the optional parts
        it uses; its fields run to the end of ARGV when it is the ``last`` part of the call, else
        their count comes first."""
        k, job_id, queue = self._keys, request.job_id, request.queue
        keys = [
            k.job(job_id),
            k.queue(queue),
            k.wake(queue),
            k.queues,
            k.results(job_id),
            k.dependents(job_id),
            k.dependencies(job_id),
        ]
        flags = ("f" if request.at_front else "") + ("a" if request.allow_failure else "")
        if request.unique:
            flags += "u"
        args: list[Arg] = ["", codec.expiry(request.record_ttl)]
        if request.once is not None:
            flags += "o"
            keys.append(self._keys.marker(request.once[0]))
            args.append(codec.score(request.once[1]))
        if request.scheduled_at is not None:
            flags += "s"
            keys.append(k.registry(PlaceKind.SCHEDULED, queue))
            args.append(codec.score(request.scheduled_at))
        if request.depends_on:
            flags += "d"
            depends_on = list(dict.fromkeys(request.depends_on))
            keys.append(k.registry(PlaceKind.DEFERRED, queue))
            for dependency in depends_on:
                keys += [k.job(dependency), k.dependents(dependency)]
            # The contract passes no time for the deferred score: use this clock.
            args += [len(depends_on), codec.score(self._clock()), *depends_on]
        if request.group is not None:
            flags += "g"
            keys += [self._keys.group(request.group), self._keys.groups]
            args.append(request.group)
        args[0] = flags
        args += codec.flat(request.fields) if last else codec.pairs(request.fields)
        return keys, args

    @staticmethod
    def _enqueue_outcome(reply: Sequence[bytes]) -> EnqueueOutcome:
        status = codec.text(reply[0])
        if status:
            return EnqueueOutcome(status)
        return EnqueueOutcome(None, reason=RefusalReason(codec.text(reply[1])))

    def _fresh(self, requests: Sequence[EnqueueRequest]) -> bool:
        """Enqueue ``requests`` with ``lua/enqueue_fresh.lua`` if it can take them: whether it
        did. It takes requests with no dependencies that are neither unique, once, scheduled,
        in a group nor rate-limited (nothing to check), whose data keys do not exist yet (nothing
        to replace).

        That is nearly every enqueue (a fresh generated id, no options), and the general script
        spends most of its server time defining and parsing what its other cases need: this one
        makes the same writes with ~189,000 server instructions per enqueue instead of ~327,000
        (42 % fewer; redis-server under callgrind, one by one, 3 rounds, medians — see
        docs/architecture.md, "Private internals"), and a batch of 1,000 in one call with five
        commands a job. That is why a second enqueue script exists. When a key exists after all (a job_id
        given again), it writes nothing and the caller runs the general script: two round trips,
        each atomic.
        """
        k = self._keys
        keys: list[str] = [k.queues]
        # The fields every request shares (EnqueueRequest.shared, the same mapping for each: a
        # batch of enqueue_many) are sent once, and each request's own fields after them.
        shared = requests[0].shared
        if shared is not None and any(request.shared is not shared for request in requests):
            shared = None
        # Marked 's' (a request's arguments start with '1' or '0'): a lone job sends nothing more.
        args: list[Arg] = ["s", *codec.pairs(shared)] if shared is not None else []
        shared_value = shared.get if shared is not None else None
        # A batch's requests nearly always share their queue and record expiry: their keys and
        # text are made again only when they change from one request to the next.
        queue: str | None = None
        record_ttl: object = _UNSEEN
        place: tuple[str, str] = ("", "")
        expiry = ""
        job_data = k.job_data
        last = len(requests) - 1
        for index, request in enumerate(requests):
            if request.depends_on or request.unique or request.once is not None or request.group is not None:
                return False
            if RATE_LIMIT_KEY in request.fields:  # its rate limit decides whether it is queued
                return False
            if request.scheduled_at is not None:
                return False
            if request.queue != queue:
                queue = request.queue
                place = (k.queue(queue), k.wake(queue))
            if request.record_ttl != record_ttl:
                record_ttl = request.record_ttl
                expiry = codec.expiry(record_ttl)
            keys += job_data(request.job_id)
            keys += place
            args.append("1" if request.at_front else "0")
            args.append(expiry)
            fields = request.fields
            if shared_value is not None:
                fields = {name: value for name, value in fields.items() if shared_value(name) is not value}
            if index != last:  # codec.pairs, the last codec.flat: without their lists made per job
                args.append(len(fields))
            args.extend(chain.from_iterable(fields.items()))
        return bool(self._scripts("enqueue_fresh", keys, args))

    def enqueue(self, request: EnqueueRequest) -> EnqueueOutcome:
        """Store and place a job (one script: ``lua/enqueue_fresh.lua`` for a plain new job, else
        ``lua/enqueue.lua``)."""
        if self._fresh((request,)):
            return _QUEUED
        reply = self._scripts("enqueue", *self._enqueue_call(request))
        return self._enqueue_outcome(reply)

    def enqueue_many(self, requests: Sequence[EnqueueRequest]) -> list[EnqueueOutcome]:
        """Check every request, then write all or none of them: one script, one round trip (see
        ``lua/enqueue_fresh.lua`` for a batch of plain new jobs, else ``lua/enqueue_many.lua``)."""
        if not requests:
            return []
        if self._fresh(requests):
            return [_QUEUED] * len(requests)
        replies = self._scripts("enqueue_many", *self._enqueue_many_call(requests))
        return [self._enqueue_outcome(reply) for reply in replies]

    def _enqueue_many_call(self, requests: Sequence[EnqueueRequest]) -> tuple[list[str], list[Arg]]:
        """The KEYS and ARGV of ``lua/enqueue_many.lua`` for a batch."""
        keys: list[str] = []
        args: list[Arg] = [len(requests)]
        for index, request in enumerate(requests):
            request_keys, request_args = self._enqueue_call(request, last=index == len(requests) - 1)
            keys += request_keys
            args += request_args
        return keys, args

    def _claim_call(
        self,
        queues: Sequence[str],
        fields: Mapping[str, bytes],
        lease: str,
        worker: WorkerUpdate | None,
        reserved: Sequence[Reservation] = (),
        reserve: Sequence[str] = (),
    ) -> tuple[list[str], list[Arg]]:
        """The claim's KEYS and ARGV as lib_claim.lua's Claim section reads them."""
        k = self._keys
        keys: list[str] = []
        with_reserved = bool(reserved or reserve)
        for queue in queues:
            keys += [k.queue(queue), k.registry(PlaceKind.STARTED, queue), k.wake(queue)]
            if with_reserved:
                keys.append(k.registry(PlaceKind.RESERVED, queue))
        args: list[Arg] = [lease]
        if with_reserved:
            # The lease marked 'r': the reservation parts follow (a plain claim sends neither).
            args = ["r" + lease, len(reserved)]
            index = {queue: i for i, queue in reversed(list(enumerate(queues, start=1)))}
            for reservation in reserved:
                # A reservation of a queue the claim does not list is in no queue it tries: 0.
                args += [index.get(reservation.queue, 0), reservation.job_id, reservation.execution_id]
            args += [len(reserve), *reserve]
        if worker is not None:
            keys.append(k.worker(worker.name))
            args += codec.worker_args(worker)
        args += codec.flat(fields)  # a claim is always a call's last part: its fields run to the end
        return keys, args

    def _claimed(
        self,
        queues: Sequence[str],
        fields: Mapping[str, bytes],
        reply: Sequence[Any],
        reserve: Sequence[str] = (),
    ) -> Claimed | None:
        """A claim's reply: {queue index (1-based, 0 for none), job id, the record before the
        claim as field, value..., problems}, then, for a claim with reservations, the position of
        the reservation started and the ids of the jobs reserved; the claim's ``fields`` and
        status are added here, as the script wrote them, and each reservation's execution id
        (``reserve``, in order). The problems are logged (see :meth:`_report`)."""
        index, job_id, items = reply[0], reply[1], reply[2]
        if len(reply) > 3 and reply[3]:
            self._report(queues, reply[3])
        if int(index) == 0:
            return None
        queue = queues[int(index) - 1]
        record, prior_status = codec.claimed_record(items, fields)
        if len(reply) < 6:
            return Claimed(codec.text(job_id), queue, record, prior_status)
        reservations = tuple(
            Reservation(codec.text(reserved), queue, execution)
            for reserved, execution in zip(reply[5], reserve, strict=False)
        )
        return Claimed(codec.text(job_id), queue, record, prior_status, int(reply[4]), reservations)

    def _report(self, queues: Sequence[str], problems: Sequence[Any]) -> None:
        """Log what a claim could not use: a queue skipped because one of its keys holds the wrong
        type (once per key and type while this broker lives), an id dropped because its job key
        is not a job's record (each time: it is gone from the queue)."""
        skipped: set[str] = set()
        for i in range(0, len(problems) - 3, 4):
            what, index, name, found = (codec.text(problems[i]), int(problems[i + 1]),
                                        codec.text(problems[i + 2]), codec.text(problems[i + 3]))  # fmt: skip
            queue = queues[index - 1]
            if what == "job":
                logger.warning(
                    "queue %s: job %s was dropped from the queue: its key %s holds a %s, not a job's "
                    "record (a hash); nothing of it can run. Inspect the key, then delete it",
                    queue, name, self._keys.job(name), found,
                )  # fmt: skip
                continue
            skipped.add(queue)
            if (name, found) in self._reported:
                continue
            self._reported.add((name, found))
            logger.error(
                "queue %s is skipped: its key %s holds a %s where jq keeps %s; no job is taken from "
                "it until the key is deleted or renamed",
                queue, name, found, _WANTED.get(what, what),
            )  # fmt: skip
        self._skipped_queues = skipped

    def _claim_once(
        self,
        queues: Sequence[str],
        fields: Mapping[str, bytes],
        lease: str,
        worker: WorkerUpdate | None,
        reserved: Sequence[Reservation] = (),
        reserve: Sequence[str] = (),
    ) -> Claimed | None:
        self._skipped_queues = set()
        # Read with this attempt's fields: a repeat after a transient error gets this reply. (Not
        # through self: a call in doubt keeps its reader, which must not keep the broker alive.)
        me = weakref.ref(self)

        keys, args = self._claim_call(queues, fields, lease, worker, reserved, reserve)
        if reserved or reserve:
            # The one script whose claims make reservations (see lua/lib_claim.lua), with no
            # transition before the claim: its reply is {{}, the claim's reply...}.
            def read_reserving(reply: Any) -> Claimed | None:
                broker = me()
                items = reply[1:]
                return (
                    None if not items or broker is None else broker._claimed(queues, fields, items, reserve)
                )

            reserving: Claimed | None = self._scripts("transition_many", keys, [0, 1, *args], read_reserving)
            return reserving

        def read(reply: Any) -> Claimed | None:
            broker = me()
            return None if reply is None or broker is None else broker._claimed(queues, fields, reply)

        claimed: Claimed | None = self._scripts("claim", keys, args, read)
        return claimed

    def claim_many(
        self, claim: ClaimRequest, execution_ids: Sequence[str], *, list_field: str = ""
    ) -> list[Claimed]:
        """Up to ``len(execution_ids)`` claims that never wait, in one script (one round trip,
        see ``lua/claim_many.lua``); the worker update applied once, with the last job claimed."""
        check_plain_claim(claim)
        if not claim.queues or not execution_ids:
            return []
        fields = claim_fields_now(claim.fields)
        keys, args = self._claim_call(claim.queues, fields, _lease(claim.lease_until), claim.worker)
        self._skipped_queues = set()
        me = weakref.ref(self)  # a call in doubt keeps its reader: not the broker alive
        queues = claim.queues

        def read(reply: Any) -> list[Claimed]:
            broker = me()
            claimed: list[Claimed] = []
            for execution, items in zip(execution_ids, reply or (), strict=False):
                one = (
                    None
                    if broker is None
                    else broker._claimed(queues, {**fields, EXECUTION: execution.encode()}, items)
                )
                if one is None:
                    break
                claimed.append(one)
            return claimed

        many: list[Claimed] = self._scripts(
            "claim_many", keys, [list_field, len(execution_ids), *execution_ids, *args], read
        )
        return many

    def reserve(
        self, queues: Sequence[str], execution_ids: Sequence[str], lease_until: float
    ) -> list[Reservation]:
        """Reserve up to ``len(execution_ids)`` jobs from the queues in order (one script, see
        ``lua/reserve.lua``)."""
        if not queues or not execution_ids:
            return []
        k = self._keys
        keys: list[str] = []
        for queue in queues:
            keys += [k.queue(queue), k.registry(PlaceKind.RESERVED, queue)]
        reply = self._scripts("reserve", keys, [codec.score(lease_until), *execution_ids])
        return [
            Reservation(codec.text(reply[n + 1]), queues[int(reply[n]) - 1], execution_ids[n // 2])
            for n in range(0, len(reply), 2)
        ]

    def _block_limit(self) -> float:
        """The longest BLPOP that cannot outlast the client's socket timeout (which would raise).

        Its answer may come :data:`_BLOCK_SLACK` late, so that much is kept free of the socket
        timeout, and up to a second for a loaded network. (A client whose retry policy re-sends a
        command that timed out hides a BLPOP that outlasted it; redis-py 5's default raises.)
        """
        if self._socket_timeout is None:
            return math.inf
        margin = max(_BLOCK_SLACK, min(1.0, self._socket_timeout / 2))
        return max(_MIN_BLOCK, self._socket_timeout - margin)

    def claim(
        self,
        queues: Sequence[str],
        fields: ClaimFields,
        lease_until: ClaimLease,
        wait: float | None = None,
        *,
        worker: WorkerUpdate | None = None,
        reserved: Sequence[Reservation] = (),
        reserve: Sequence[str] = (),
    ) -> Claimed | None:
        """Claim the next job of the first non-empty queue (one script when a job is there; a
        reservation of the caller's first), updating ``worker``'s record in the same script.

        With ``wait``, when every queue is empty, block in BLPOP on the queues' wake keys and try
        again when a token comes or a BLPOP times out, until a job is claimed or the time is up.
        """
        if not queues:
            return None
        claimed = self._claim_once(
            queues, claim_fields_now(fields), _lease(lease_until), worker, reserved, reserve
        )
        if claimed is not None or not wait or wait <= 0:
            return claimed
        deadline = time.monotonic() + wait
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            # Not on a queue the claim skipped, nor on a wake key of the wrong type: BLPOP would
            # refuse the whole wait.
            wake_keys = [self._keys.wake(queue) for queue in queues if queue not in self._skipped_queues]
            wake_keys = [key for key in wake_keys if key not in self._bad_wake_keys]
            timeout = max(_MIN_BLOCK, min(remaining, self._block_limit()))
            if wake_keys:
                self._wait_for_token(wake_keys, timeout)
            else:
                time.sleep(timeout)  # every queue is skipped: nothing to wait on but the time
            claimed = self._claim_once(queues, claim_fields_now(fields), _lease(lease_until), worker)
            if claimed is not None:
                return claimed

    def _wait_for_token(self, wake_keys: list[str], timeout: float) -> None:
        """BLPOP on ``wake_keys``; a wake key that holds another type than a list is logged
        (once) and left out of later waits: its queue is then claimed from at each try.

        The one write jq never makes wait for replicas (``wait_replicas``): the token it takes
        is only a hint to look, and the claim that follows is a script that waits. A pop a
        failover loses leaves a token, which wakes a worker for one claim that finds what is there."""
        try:
            self._client.blpop(wake_keys, timeout=timeout)
        except redis.ResponseError as error:
            if master_gone(error):  # the master was demoted while this worker waited on it
                forget_connections(self._client)
                raise MasterChangedError(f"the wait for a job was ended by a failover ({error})") from error
            if not is_wrong_type(error):
                raise
            for key in wake_keys:
                found = codec.text(self._client.type(key))
                if found not in ("list", "none"):
                    self._bad_wake_keys.add(key)
                    logger.error(
                        "the wake key %s holds a %s where jq keeps a list: its queue is tried at each "
                        "claim instead of waking its workers; delete the key",
                        key, found,
                    )  # fmt: skip

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
        args: list[Arg] = [codec.score(lease_until), *codec.flat(fields)]
        reply = self._scripts("claim_job", script_keys, args)
        return None if reply is None else codec.claimed_record(reply, fields)[0]

    def extend_lease(self, queue: str, job_id: str, execution_id: str, lease_until: float) -> bool:
        """Move the lease deadline of this execution of the job (one script)."""
        k = self._keys
        script_keys = [k.registry(PlaceKind.STARTED, queue), k.job(job_id)]
        return bool(self._scripts("extend_lease", script_keys, [execution_id, codec.score(lease_until)]))

    def queue_length(self, queue: str) -> int:
        """LLEN of the queue."""
        return self._client.llen(self._keys.queue(queue))

    def queue_job_ids(self, queue: str, start: int = 0, end: int = -1) -> list[str]:
        """LRANGE of the queue."""
        ids = cast("list[bytes]", self._client.lrange(self._keys.queue(queue), start, end))
        return [codec.text(job_id) for job_id in ids]

    def queue_heads(self, queues: Sequence[str]) -> list[str | None]:
        """LINDEX 0 of each queue, in one pipeline (not a transaction)."""
        if not queues:
            return []
        pipe = self._client.pipeline(transaction=False)
        for queue in queues:
            pipe.lindex(self._keys.queue(queue), 0)
        return [None if head is None else codec.text(head) for head in pipe.execute()]

    def queue_position(self, queue: str, job_id: str) -> int | None:
        """LPOS of the id in the queue."""
        return cast("int | None", self._client.lpos(self._keys.queue(queue), job_id))

    def queue_names(self) -> list[str]:
        """The known queue names, sorted."""
        names = cast("set[bytes]", self._client.smembers(self._keys.queues))
        return sorted(codec.text(name) for name in names)

    def _drop_queue(self, queue: str, *, delete_jobs: bool, forget: bool) -> int:
        keys = self._keys
        script_keys = [
            keys.queue(queue),
            keys.wake(queue),
            keys.queues,
            keys.registry(PlaceKind.RESERVED, queue),
        ]
        args: list[Arg] = [codec.flag(delete_jobs), codec.flag(forget)]
        return int(self._scripts("drop_queue", script_keys, args))

    def empty_queue(self, queue: str) -> int:
        """Remove every id and delete those jobs' records, results and dependency sets (one script)."""
        return self._drop_queue(queue, delete_jobs=True, forget=False)

    def delete_queue(self, queue: str, delete_jobs: bool) -> None:
        """Forget the queue, its ids and optionally its jobs (one script)."""
        self._drop_queue(queue, delete_jobs=delete_jobs, forget=True)
