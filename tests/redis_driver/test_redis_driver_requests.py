"""A script call delivered twice applies once (jq_backends.redis.requests, lib.lua's Requests).

Each test sends a copy of a call exactly as the driver sent it (EVALSHA, its request key and
number included), as a redis-py retry or a held connection re-sending it would, and checks what
the copy got and that it wrote nothing more. A claim's reply is recorded compactly and rebuilt
from the job's record on a repeat: the repeat must read exactly as the first reply did.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis

from jq.broker import ClaimRequest, DependentsPolicy, RecordEdit, Settlement
from jq_backends.redis import RedisBroker
from tests.redis_driver.support import Q, finish, request, snapshot, start

FIELDS = {"execution": b"x1", "worker_name": b"w", "started_at": b"t1"}


@dataclass
class Sent:
    """The EVALSHA commands the broker's scripts sent, with the reply each got."""

    commands: list[tuple[Any, ...]] = field(default_factory=list)
    replies: list[Any] = field(default_factory=list)


@pytest.fixture
def sent(rb: RedisBroker) -> Iterator[Sent]:
    record = Sent()
    hot = rb._scripts._hot
    execute = hot.execute

    def recording(fallback: Any, *args: Any) -> Any:
        reply = execute(fallback, *args)
        record.commands.append(args)
        record.replies.append(reply)
        return reply

    hot.execute = recording  # type: ignore[method-assign]
    try:
        yield record
    finally:
        hot.execute = execute  # type: ignore[method-assign]


def again(client: redis.Redis, command: tuple[Any, ...]) -> Any:
    """The same command, sent once more."""
    return client.execute_command(*command)


def test_a_claim_delivered_twice_takes_one_job_and_reads_the_same(
    rb: RedisBroker, client: redis.Redis, sent: Sent
) -> None:
    rb.enqueue_many([request("a", fields={"meta": b"m", "status": b"queued"}), request("b")])
    claimed = rb.claim([Q], FIELDS, 100.0)
    assert claimed is not None and claimed.job_id == "a"
    before = snapshot(client)
    repeat = again(client, sent.commands[-1])
    assert snapshot(client) == before, "the copy wrote nothing"
    assert rb._claimed([Q], FIELDS, repeat) == claimed, "it reads as the first reply did"
    assert rb.queue_length(Q) == 1


def test_a_claim_of_a_job_without_a_status_reads_the_same_on_a_repeat(
    rb: RedisBroker, client: redis.Redis, sent: Sent
) -> None:
    rb.enqueue(request("a"))
    client.hdel("jq:job:a", "status")  # a corrupt record: claimed, so that the worker fails it
    claimed = rb.claim([Q], FIELDS, 100.0)
    assert claimed is not None and claimed.prior_status is None
    assert rb._claimed([Q], FIELDS, again(client, sent.commands[-1])) == claimed


def test_a_finish_and_claim_delivered_twice_applies_once(
    rb: RedisBroker, client: redis.Redis, sent: Sent
) -> None:
    start(rb, "a", execution=b"e1")
    rb.enqueue_many([request("b"), request("c")])
    change = finish(
        "a",
        execution_id="e1",
        edit=RecordEdit({"status": b"finished"}, record_ttl=50),
        settlement=Settlement(DependentsPolicy.FINISHED),
    )
    moved, claimed = rb.finish_and_claim(change, ClaimRequest([Q], FIELDS, 100.0))
    assert moved and claimed is not None and claimed.job_id == "b"
    before = snapshot(client)
    repeat = again(client, sent.commands[-1])
    assert snapshot(client) == before
    assert bool(repeat[0]) and rb._claimed([Q], FIELDS, repeat[1:]) == claimed


def test_a_repeated_claim_whose_job_was_taken_away_claims_nothing(
    rb: RedisBroker, client: redis.Redis, sent: Sent
) -> None:
    rb.enqueue_many([request("a"), request("b")])
    claimed = rb.claim([Q], FIELDS, 100.0)
    assert claimed is not None
    claim = sent.commands[-1]
    # Another execution owns it now (maintenance queued it again, another worker claimed it).
    # (Written directly: a call of this thread's session would make the copy an older call.)
    client.hset("jq:job:a", "execution", b"x2")
    assert again(client, claim) is None, "the worker must not run a job it no longer owns"
    client.hset("jq:job:a", mapping={"execution": b"x1", "status": b"failed"})
    assert again(client, claim) is None
    client.delete("jq:job:a")
    assert again(client, claim) is None
    assert rb.queue_length(Q) == 1, "and the copy claimed no other job"


def test_a_repeated_finish_and_claim_whose_job_was_taken_away_keeps_its_move(
    rb: RedisBroker, client: redis.Redis, sent: Sent
) -> None:
    start(rb, "a", execution=b"e1")
    rb.enqueue(request("b"))
    change = finish("a", execution_id="e1", edit=RecordEdit({"status": b"finished"}, record_ttl=50))
    moved, claimed = rb.finish_and_claim(change, ClaimRequest([Q], FIELDS, 100.0))
    assert moved and claimed is not None
    client.hset("jq:job:b", "status", b"canceled")
    assert [bool(item) for item in again(client, sent.commands[-1])] == [True]


def test_a_claim_with_reservations_delivered_twice_applies_once(
    rb: RedisBroker, client: redis.Redis, sent: Sent
) -> None:
    rb.enqueue_many([request(job_id) for job_id in "abcdef"])
    claimed = rb.claim([Q], FIELDS, 100.0, reserve=["r1", "r2"])
    assert claimed is not None and [r.job_id for r in claimed.reservations] == ["b", "c"]
    before = snapshot(client)
    repeat = again(client, sent.commands[-1])
    assert snapshot(client) == before, "the copy wrote nothing"
    # (A claim with reservations is made by transition_many.lua: {{}, the claim's reply...}.)
    assert rb._claimed([Q], FIELDS, repeat[1:], ["r1", "r2"]) == claimed
    # Starting a reservation: the copy reads the same too.
    following = rb.claim([Q], {**FIELDS, "execution": b"x2"}, 100.0, reserved=claimed.reservations)
    assert following is not None and (following.job_id, following.from_reserved) == ("b", 1)
    before = snapshot(client)
    repeat = again(client, sent.commands[-1])
    assert snapshot(client) == before
    assert rb._claimed([Q], {**FIELDS, "execution": b"x2"}, repeat[1:]) == following


def test_a_reserve_or_transition_many_delivered_twice_applies_once(
    rb: RedisBroker, client: redis.Redis, sent: Sent
) -> None:
    rb.enqueue_many([request(job_id) for job_id in "abc"])
    reserved = rb.reserve([Q], ["r1", "r2"], 100.0)
    before = snapshot(client)
    assert again(client, sent.commands[-1]) == sent.replies[-1] and snapshot(client) == before
    start(rb, "c", execution=b"e1")
    moved, claimed = rb.transition_many(
        [finish("c", execution_id="e1", edit=RecordEdit({"status": b"finished"}, record_ttl=50))],
        ClaimRequest([Q], FIELDS, 100.0, reserved=reserved),
    )
    assert moved == [True] and claimed is not None and claimed.job_id == "a"
    before = snapshot(client)
    repeat = again(client, sent.commands[-1])
    assert snapshot(client) == before
    assert list(repeat[0]) == [1] and rb._claimed([Q], FIELDS, repeat[1:]) == claimed


def test_a_claim_without_an_execution_id_is_recorded_whole(
    rb: RedisBroker, client: redis.Redis, sent: Sent
) -> None:
    rb.enqueue_many([request("a"), request("b")])
    assert rb.claim([Q], {"worker_name": b"w"}, 100.0) is not None
    assert again(client, sent.commands[-1]) == sent.replies[-1]
    assert rb.queue_length(Q) == 1


def test_an_enqueue_delivered_twice_gets_the_first_reply(
    rb: RedisBroker, client: redis.Redis, sent: Sent
) -> None:
    rb.enqueue(request("a"))
    before = snapshot(client)
    assert again(client, sent.commands[-1]) == sent.replies[-1]
    assert snapshot(client) == before
    assert rb.queue_length(Q) == 1


def test_a_copy_of_an_older_call_is_refused(rb: RedisBroker, client: redis.Redis, sent: Sent) -> None:
    rb.enqueue(request("a"))
    first = sent.commands[-1]
    rb.enqueue(request("b"))
    rb.claim([Q], FIELDS, 100.0)
    before = snapshot(client)
    with pytest.raises(redis.ResponseError, match="came after request"):
        again(client, first)
    assert snapshot(client) == before


def test_a_claim_whose_reply_was_lost_is_the_one_tried_again(
    rb: RedisBroker, client: redis.Redis, sent: Sent
) -> None:
    """The claim ran but its reply never came: the worker's next claim gets that job."""
    rb.enqueue_many([request("a"), request("b")])
    hot = rb._scripts._hot
    execute = hot.execute

    def lost(fallback: Any, *args: Any) -> Any:
        execute(fallback, *args)
        hot.execute = execute  # type: ignore[method-assign]
        raise redis.TimeoutError("the reply did not come in time")

    hot.execute = lost  # type: ignore[method-assign]
    with pytest.raises(redis.TimeoutError):
        rb.claim([Q], FIELDS, 100.0)
    claimed = rb.claim([Q], FIELDS, 100.0)
    assert claimed is not None and claimed.job_id == "a"
    assert rb.queue_length(Q) == 1, "b is still queued: the claim ran once"
