"""Contract tests for rate limits (:class:`jq.broker.RateLimitStore`), for drivers that enforce
them: the slots a key's jobs hold while queued or started, and the line the others wait in."""

from __future__ import annotations

import math

import pytest

from jq.broker import (
    EXECUTION,
    RATE_LIMIT_CONCURRENCY,
    RATE_LIMIT_KEY,
    STATUS,
    Broker,
    ClaimRequest,
    DependentsPolicy,
    EnqueueRequest,
    Move,
    PlaceKind,
    RecordEdit,
    Settlement,
    ToQueue,
    ToRegistry,
    Transition,
)
from jq.testing.helpers import LEASE, end_job, enqueue, job_fields, place, start_job, wait_for

__all__ = ["RateLimitAdmissionContract", "RateLimitReleaseContract"]

QUEUE, STARTED = place(PlaceKind.QUEUE), place(PlaceKind.STARTED)
WAITING, SCHEDULED = place(PlaceKind.RATE_LIMITED), place(PlaceKind.SCHEDULED)
RELEASED = {"enqueued_at": b"released"}


def limited(key: str = "k", concurrency: int = 1, queue: str = "default", **extra: bytes) -> dict[str, bytes]:
    """The record of a job of ``queue`` limited by ``key`` to ``concurrency``."""
    limit = {RATE_LIMIT_KEY: key.encode(), RATE_LIMIT_CONCURRENCY: str(concurrency).encode()}
    return job_fields(queue, **limit, **extra)


def status(broker: Broker, job_id: str) -> bytes | None:
    values = broker.load_job_fields(job_id, [STATUS])
    return None if values is None else values[0]


class _RateLimits:
    @pytest.fixture(autouse=True)
    def _needs_rate_limits(self, broker: Broker) -> None:
        if not broker.supports_rate_limits:
            pytest.skip(f"{type(broker).__name__} does not enforce rate limits")


class RateLimitAdmissionContract(_RateLimits):
    """Rule 1 and 3: jobs take a slot when one is free and nobody waits, else wait in line, and
    are admitted in line order as slots are freed."""

    def test_jobs_over_the_concurrency_wait_off_the_queue(self, broker: Broker) -> None:
        outcomes = [enqueue(broker, f"j{n}", fields=limited(concurrency=2)).status for n in (1, 2, 3)]
        assert outcomes == ["queued", "queued", "rate_limited"]
        assert broker.queue_job_ids("default") == ["j1", "j2"]
        assert status(broker, "j3") == b"rate_limited"
        assert broker.registry_ids(WAITING) == ["j3"]
        assert broker.rate_limit_job_ids("k") == ["j1", "j2"]
        assert broker.rate_limit_job_ids("k", waiting=True) == ["j3"]
        assert broker.rate_limit_keys() == ["k"] and broker.rate_limit_concurrency("k") == 2
        enqueue(broker, "free")
        assert broker.queue_job_ids("default") == ["j1", "j2", "free"], "other jobs are not limited"

    def test_a_claim_never_takes_a_waiting_job(self, broker: Broker) -> None:
        for n in (1, 2):
            enqueue(broker, f"j{n}", fields=limited())
        assert broker.claim(["default"], {EXECUTION: b"x"}, LEASE) is not None
        assert broker.claim(["default"], {EXECUTION: b"y"}, LEASE) is None
        assert status(broker, "j2") == b"rate_limited"

    def test_an_outcome_frees_the_slot_and_admits_the_first_in_line(self, broker: Broker) -> None:
        for n in (1, 2, 3):
            enqueue(broker, f"j{n}", fields=limited(concurrency=2))
        start_job(broker, "j1")
        assert end_job(broker, "j1", released_fields=RELEASED, execution="x-j1")
        assert broker.queue_job_ids("default") == ["j2", "j3"]
        assert status(broker, "j3") == b"queued"
        assert broker.load_job_fields("j3", ["enqueued_at"]) == [b"released"]
        assert broker.registry_ids(WAITING) == [] and broker.rate_limit_job_ids("k", waiting=True) == []
        assert broker.rate_limit_job_ids("k") == ["j2", "j3"]

    def test_the_line_is_kept_across_queues_in_enqueue_order(self, broker: Broker) -> None:
        enqueue(broker, "a1", "q1", fields=limited(queue="q1"))
        enqueue(broker, "b1", "q2", fields=limited(queue="q2"))
        enqueue(broker, "a2", "q1", fields=limited(queue="q1"))
        assert broker.rate_limit_job_ids("k", waiting=True) == ["b1", "a2"]
        assert broker.registry_ids(place(PlaceKind.RATE_LIMITED, "q2")) == ["b1"]
        start_job(broker, "a1", "q1")
        end_job(broker, "a1", "q1", status="failed", execution="x-a1")
        assert broker.queue_job_ids("q2") == ["b1"] and broker.queue_job_ids("q1") == []
        start_job(broker, "b1", "q2")
        end_job(broker, "b1", "q2", execution="x-b1")
        assert broker.queue_job_ids("q1") == ["a2"]
        start_job(broker, "a2", "q1")
        end_job(broker, "a2", "q1", execution="x-a2")
        assert broker.rate_limit_keys() == [], "a key with no slot held and nobody waiting is forgotten"

    def test_a_batch_is_admitted_in_order(self, broker: Broker) -> None:
        outcomes = broker.enqueue_many(
            [EnqueueRequest(f"j{n}", "default", limited(concurrency=2)) for n in range(4)]
        )
        assert [outcome.status for outcome in outcomes] == [
            "queued",
            "queued",
            "rate_limited",
            "rate_limited",
        ]
        assert broker.rate_limit_job_ids("k", waiting=True) == ["j2", "j3"]

    def test_an_admitted_job_goes_to_the_front_when_its_record_says(self, broker: Broker) -> None:
        enqueue(broker, "holder", fields=limited())
        enqueue(broker, "other")
        enqueue(broker, "urgent", fields=limited(enqueue_at_front=b"1"), at_front=True)
        start_job(broker, "holder")
        end_job(broker, "holder", execution="x-holder")
        assert broker.queue_job_ids("default") == ["urgent", "other"]

    def test_a_released_dependent_and_a_due_job_wait_for_a_slot(self, broker: Broker) -> None:
        enqueue(broker, "holder", fields=limited())
        enqueue(broker, "parent")
        assert enqueue(broker, "child", fields=limited(), depends_on=["parent"]).status == "deferred"
        enqueue(broker, "due", fields=limited(), scheduled_at=1.0)
        start_job(broker, "parent")
        end_job(broker, "parent", released_fields=RELEASED, execution="x-parent")
        assert status(broker, "child") == b"rate_limited"
        assert broker.promote_scheduled("default", 2.0, {"enqueued_at": b"due"}) == [], "nothing queued"
        assert status(broker, "due") == b"rate_limited" and broker.registry_ids(SCHEDULED) == []
        assert broker.rate_limit_job_ids("k", waiting=True) == ["child", "due"]

    def test_a_requeued_job_takes_a_slot_or_waits(self, broker: Broker) -> None:
        enqueue(broker, "j1", fields=limited())
        start_job(broker, "j1")
        end_job(broker, "j1", status="failed", execution="x-j1")
        enqueue(broker, "j2", fields=limited())
        requeue = Transition(
            "j1", Move(place(PlaceKind.FAILED), ToQueue("default")), RecordEdit({STATUS: b"queued"})
        )
        assert broker.transition(requeue)
        assert status(broker, "j1") == b"rate_limited" and broker.queue_job_ids("default") == ["j2"]

    def test_finish_and_claim_claims_the_job_it_admitted(self, broker: Broker) -> None:
        enqueue(broker, "j1", fields=limited())
        enqueue(broker, "j2", fields=limited())
        start_job(broker, "j1")
        finish = Transition(
            "j1",
            Move(STARTED, ToRegistry(place(PlaceKind.FINISHED), math.inf)),
            RecordEdit({STATUS: b"finished"}),
            settlement=Settlement(DependentsPolicy.FINISHED),
            execution_id="x-j1",
        )
        moved, claimed = broker.finish_and_claim(finish, ClaimRequest(["default"], {EXECUTION: b"n"}, LEASE))
        assert moved and claimed is not None and claimed.job_id == "j2"


class RateLimitReleaseContract(_RateLimits):
    """Rule 2 and 4, and :meth:`release_rate_limit_slots`."""

    def test_a_retry_at_once_keeps_its_slot_and_a_scheduled_one_frees_it(self, broker: Broker) -> None:
        enqueue(broker, "j1", fields=limited())
        enqueue(broker, "j2", fields=limited())
        start_job(broker, "j1")
        again = Transition(
            "j1", Move(STARTED, ToQueue("default")), RecordEdit({STATUS: b"queued"}), execution_id="x-j1"
        )
        assert broker.transition(again)
        assert broker.queue_job_ids("default") == ["j1"] and status(broker, "j2") == b"rate_limited"
        start_job(broker, "j1", execution="x2")
        later = Transition(
            "j1",
            Move(STARTED, ToRegistry(SCHEDULED, 5.0)),
            RecordEdit({STATUS: b"scheduled"}),
            released_fields=RELEASED,
            execution_id="x2",
        )
        assert broker.transition(later)
        assert broker.queue_job_ids("default") == ["j2"] and broker.rate_limit_job_ids("k") == ["j2"]
        assert broker.promote_scheduled("default", 6.0, {}) == []
        assert status(broker, "j1") == b"rate_limited", "due, it waits for a slot again"

    def test_cancel_or_delete_of_a_queued_or_waiting_job(self, broker: Broker) -> None:
        for n in (1, 2, 3):
            enqueue(broker, f"j{n}", fields=limited())
        cancel = Transition(
            "j2",
            Move(WAITING, ToRegistry(place(PlaceKind.CANCELED), math.inf)),
            RecordEdit({STATUS: b"canceled"}),
        )
        assert broker.transition(cancel)
        assert broker.rate_limit_job_ids("k", waiting=True) == ["j3"] and broker.registry_ids(WAITING) == [
            "j3"
        ]
        assert broker.delete_job("j1", [QUEUE], released_fields=RELEASED)
        assert broker.queue_job_ids("default") == ["j3"] and broker.rate_limit_job_ids("k") == ["j3"]
        assert broker.load_job_fields("j3", ["enqueued_at"]) == [b"released"]
        assert broker.delete_job("j3", [QUEUE])
        assert broker.rate_limit_keys() == []

    def test_a_running_job_ended_by_another_call_keeps_its_slot_until_released(self, broker: Broker) -> None:
        enqueue(broker, "j1", fields=limited())
        enqueue(broker, "j2", fields=limited())
        assert broker.claim(["default"], {EXECUTION: b"x1"}, 500.0) is not None
        cancel = Transition(
            "j1",
            Move(STARTED, ToRegistry(place(PlaceKind.CANCELED), math.inf)),
            RecordEdit({STATUS: b"canceled"}),
        )
        assert broker.transition(cancel)
        assert status(broker, "j2") == b"rate_limited", "its code may still be running"
        assert broker.release_rate_limit_slots("k", now=400.0) == [], "its lease has not run out"
        assert broker.release_rate_limit_slots("k", now=600.0, released_fields=RELEASED) == ["j2"]
        assert broker.queue_job_ids("default") == ["j2"]

    def test_the_worker_of_a_stale_execution_releases_its_slot(self, broker: Broker) -> None:
        enqueue(broker, "j1", fields=limited())
        enqueue(broker, "j2", fields=limited())
        start_job(broker, "j1")
        assert broker.delete_job("j1", [STARTED])
        assert status(broker, "j2") == b"rate_limited"
        assert broker.release_rate_limit_slots("k", ["j1"]) == ["j2"]
        assert broker.release_rate_limit_slots("k", ["j2"]) == [], "a queued job keeps its slot"
        assert broker.rate_limit_job_ids("k") == ["j2"]

    def test_a_slot_whose_holder_expired_is_released(self, broker: Broker) -> None:
        enqueue(broker, "short", fields=limited(), record_ttl=1)
        enqueue(broker, "next", fields=limited())
        assert wait_for(lambda: not broker.job_exists("short"), timeout=10)
        assert broker.rate_limit_job_ids("k") == ["short"], "nothing noticed yet"
        assert broker.release_rate_limit_slots("k", released_fields=RELEASED) == ["next"]
        assert broker.queue_job_ids("default") == ["short", "next"], "the claim drops the expired id"

    def test_emptying_the_queue_frees_its_slots(self, broker: Broker) -> None:
        for n in (1, 2):
            enqueue(broker, f"j{n}", fields=limited())
        assert broker.empty_queue("default") == 1
        assert broker.rate_limit_job_ids("k") == ["j2"] and broker.queue_job_ids("default") == ["j2"]

    def test_a_started_job_holds_its_slot_until_its_outcome(self, broker: Broker) -> None:
        enqueue(broker, "j1", fields=limited())
        enqueue(broker, "j2", fields=limited())
        start_job(broker, "j1")
        assert broker.release_rate_limit_slots("k", ["j1"], now=LEASE * 2) == []
        end_job(broker, "j1", status="failed", execution="x-j1")
        assert broker.queue_job_ids("default") == ["j2"]
