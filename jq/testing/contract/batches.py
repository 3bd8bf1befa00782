"""Contract tests for :meth:`~jq.broker.Broker.enqueue_many`: checked as a sequence, written all
or nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jq.broker import (
    SCHEDULED_AT,
    STATUS,
    Broker,
    DependentsPolicy,
    EnqueueOutcome,
    EnqueueRequest,
    Move,
    PlaceKind,
    RefusalReason,
    Settlement,
    Transition,
)
from jq.testing.contract.enqueue_rules import _marker_untouched, _state
from jq.testing.helpers import enqueue, job_fields, place, start_job

__all__ = ["EnqueueBatchContract"]

BATCH = EnqueueOutcome(None, reason=RefusalReason.BATCH)
IDS = ("a", "b", "c", "d", "e", "ok1", "ok3", "parent", "child", "x", "y", "u", "broken")


def _request(
    job_id: str, queue: str = "default", *, fields: Mapping[str, bytes] | None = None, **options: Any
) -> EnqueueRequest:
    return EnqueueRequest(job_id, queue, fields or job_fields(queue), **options)


def _failed(broker: Broker, job_id: str) -> None:
    broker.save_job(job_id, {**job_fields(), STATUS: b"failed"})


class EnqueueBatchContract:
    """Every request is checked against the store as the batch will leave it; if one is refused,
    nothing of the batch is written."""

    def test_a_refused_request_writes_nothing_of_the_batch(self, broker: Broker) -> None:
        enqueue(broker, "x")
        before = _state(broker, IDS, ("default", "other"))
        requests = [
            _request("ok1", once=("m", 1)),
            _request("x", depends_on=["missing"], unique=True),
            _request("ok3", "other", depends_on=["ok1"], scheduled_at=5.0),
        ]
        assert broker.enqueue_many(requests) == [
            BATCH,
            EnqueueOutcome(None, reason=RefusalReason.DUPLICATE),
            BATCH,
        ]
        assert _state(broker, IDS, ("default", "other")) == before
        _marker_untouched(broker, "m", 1)

    def test_an_earlier_request_counts_as_an_existing_dependency(self, broker: Broker) -> None:
        requests = [
            _request("parent"),
            _request("child", depends_on=["parent"]),
            _request("x", depends_on=["child", "parent"]),
        ]
        assert broker.enqueue_many(requests) == [
            EnqueueOutcome("queued"),
            EnqueueOutcome("deferred"),
            EnqueueOutcome("deferred"),
        ]
        assert broker.dependent_ids("parent") == ["child", "x"]
        assert broker.dependent_ids("child") == ["x"]
        assert broker.registry_ids(place(PlaceKind.DEFERRED)) in (["child", "x"], ["x", "child"])

    def test_a_child_listed_before_its_parent_waits_for_it(self, broker: Broker) -> None:
        requests = [
            _request("child", depends_on=["parent"]),
            _request("x", depends_on=["child", "parent"]),
            _request("parent"),
        ]
        assert broker.enqueue_many(requests) == [
            EnqueueOutcome("deferred"),
            EnqueueOutcome("deferred"),
            EnqueueOutcome("queued"),
        ]
        assert broker.dependent_ids("parent") == ["child", "x"]
        assert broker.queue_job_ids("default") == ["parent"]
        start_job(broker, "parent")
        assert broker.transition(
            Transition(
                "parent", Move(place(PlaceKind.STARTED)), settlement=Settlement(DependentsPolicy.FINISHED)
            )
        )
        assert broker.queue_job_ids("default") == ["child"]

    def test_a_cycle_through_a_later_request_is_refused(self, broker: Broker) -> None:
        before = _state(broker, IDS)
        requests = [_request("x", depends_on=["y"]), _request("y", depends_on=["x"])]
        assert broker.enqueue_many(requests) == [BATCH, EnqueueOutcome(None, reason=RefusalReason.CYCLE)]
        assert _state(broker, IDS) == before

    def test_an_earlier_request_counts_with_the_status_it_gets(self, broker: Broker) -> None:
        _failed(broker, "broken")
        requests = [
            _request("a", depends_on=["broken"], allow_failure=True),
            _request("b", depends_on=["a"]),
            _request("c", depends_on=["broken"]),
        ]
        assert broker.enqueue_many(requests) == [
            EnqueueOutcome("queued"),
            EnqueueOutcome("deferred"),
            EnqueueOutcome("deferred"),
        ]
        assert broker.dependent_ids("broken") == ["c"]

    def test_an_unknown_dependency_counts_as_met(self, broker: Broker) -> None:
        requests = [_request("a", depends_on=["nope"]), _request("b", depends_on=["a", "nope"])]
        assert broker.enqueue_many(requests) == [EnqueueOutcome("queued"), EnqueueOutcome("deferred")]
        assert broker.dependent_ids("a") == ["b"]

    def test_unique_counts_an_earlier_request_of_the_batch(self, broker: Broker) -> None:
        before = _state(broker, IDS)
        requests = [_request("u"), _request("u", unique=True)]
        assert broker.enqueue_many(requests) == [BATCH, EnqueueOutcome(None, reason=RefusalReason.DUPLICATE)]
        assert _state(broker, IDS) == before

    def test_markers_count_earlier_requests_of_the_batch(self, broker: Broker) -> None:
        requests = [_request("a", once=("m", 1)), _request("b", once=("m", 2))]
        assert broker.enqueue_many(requests) == [EnqueueOutcome("queued")] * 2
        requests = [_request("c", once=("n", 2)), _request("d", once=("n", 2))]
        assert broker.enqueue_many(requests) == [BATCH, EnqueueOutcome(None, reason=RefusalReason.ALREADY)]
        assert broker.queue_job_ids("default") == ["a", "b"]
        _marker_untouched(broker, "n", 1)

    def test_a_cycle_through_earlier_requests_is_refused(self, broker: Broker) -> None:
        enqueue(broker, "y")
        before = _state(broker, IDS)
        # x waits for y; y replaced by a job that waits for x would wait for itself.
        requests = [_request("x", depends_on=["y"]), _request("y", depends_on=["x"])]
        assert broker.enqueue_many(requests) == [BATCH, EnqueueOutcome(None, reason=RefusalReason.CYCLE)]
        assert _state(broker, IDS) == before

    def test_a_replacement_earlier_in_the_batch_is_what_later_requests_wait_for(self, broker: Broker) -> None:
        enqueue(broker, "parent")
        start_job(broker, "parent")
        broker.save_job("done", {**job_fields(), STATUS: b"finished"})
        requests = [_request("done"), _request("child", depends_on=["done"])]
        assert broker.enqueue_many(requests) == [EnqueueOutcome("queued"), EnqueueOutcome("deferred")]
        assert broker.dependent_ids("done") == ["child"]

    def test_every_option_of_every_request_is_applied(self, broker: Broker) -> None:
        requests = [
            _request("a"),
            _request("b", scheduled_at=50.0, once=("mk", 3)),
            _request("c", depends_on=["a", "b"], at_front=True, allow_failure=True),
            _request("d", "other", unique=True, record_ttl=100),
            _request("e", depends_on=["c"], scheduled_at=60.0),
            _request("f", at_front=True),
        ]
        assert [outcome.status for outcome in broker.enqueue_many(requests)] == [
            "queued",
            "scheduled",
            "deferred",
            "queued",
            "deferred",
            "queued",
        ]
        assert broker.queue_job_ids("default") == ["f", "a"]
        assert broker.queue_job_ids("other") == ["d"]
        assert broker.queue_names() == ["default", "other"]
        assert broker.registry_score(place(PlaceKind.SCHEDULED), "b") == 50.0
        assert broker.dependent_ids("a") == ["c"] and broker.dependent_ids("c") == ["e"]
        assert broker.load_job_fields("e", [SCHEDULED_AT]) == [b"60.0"]
        ttl = broker.job_ttl("d")
        assert ttl is not None and 0 < ttl <= 100
        assert broker.job_ttl("a") is None

    def test_a_long_chain_in_one_batch(self, broker: Broker) -> None:
        requests = [_request("n0")] + [
            _request(f"n{index}", depends_on=[f"n{index - 1}"]) for index in range(1, 300)
        ]
        outcomes = broker.enqueue_many(requests)
        assert outcomes == [EnqueueOutcome("queued")] + [EnqueueOutcome("deferred")] * 299
        assert broker.registry_count(place(PlaceKind.DEFERRED)) == 299
        assert broker.dependent_ids("n298") == ["n299"]
