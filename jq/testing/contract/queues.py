"""Contract tests for enqueueing, claiming and reading or clearing queues."""

from __future__ import annotations

import time

import pytest

from jq.broker import (
    ALLOW_FAILURE,
    EXECUTION,
    ORIGIN,
    STATUS,
    Broker,
    Claimed,
    EnqueueOutcome,
    EnqueueRequest,
    Place,
    PlaceKind,
)
from jq.testing.helpers import LEASE, enqueue, job_fields, place, start_job, wait_for

__all__ = ["ClaimContract", "EnqueueContract", "QueueContract"]

UNFINISHED = ("queued", "started", "deferred", "scheduled")
#: Statuses that leave a dependent waiting (the dependency may be requeued), even one that allows
#: failure: only ``failed`` is met for it.
ENDED_BADLY = ("failed", "stopped", "canceled")


def _parent(broker: Broker, job_id: str, status: str) -> None:
    """A job that exists with the given status (as a dependency)."""
    broker.save_job(job_id, {**job_fields(), STATUS: status.encode()})


class EnqueueContract:
    """Enqueue: its ordered steps (unknown dependencies, deferred, scheduled, queued) and record TTL.

    Refusals, replacement and dependencies that ended badly: :mod:`.enqueue_rules`.
    """

    def test_enqueue_stores_the_record_with_status_queued(self, broker: Broker) -> None:
        fields = job_fields(description=b"say hello")
        assert enqueue(broker, "j1", fields=fields) == EnqueueOutcome("queued")
        assert broker.load_job("j1") == {**fields, STATUS: b"queued"}
        assert broker.queue_job_ids("default") == ["j1"]

    def test_enqueue_appends_to_the_back(self, broker: Broker) -> None:
        for job_id in ("a", "b", "c"):
            enqueue(broker, job_id)
        assert broker.queue_job_ids("default") == ["a", "b", "c"]

    def test_enqueue_at_front_goes_first(self, broker: Broker) -> None:
        enqueue(broker, "a")
        enqueue(broker, "b")
        enqueue(broker, "urgent", at_front=True)
        assert broker.queue_job_ids("default") == ["urgent", "a", "b"]

    def test_enqueue_makes_the_queue_known(self, broker: Broker) -> None:
        assert broker.queue_names() == []
        enqueue(broker, "a", "beta")
        enqueue(broker, "b", "alpha")
        enqueue(broker, "c", "beta")
        assert broker.queue_names() == ["alpha", "beta"]

    def test_dependencies_without_a_record_are_met(self, broker: Broker) -> None:
        outcome = enqueue(broker, "j1", "elsewhere", depends_on=["gone1", "gone2"])
        assert outcome == EnqueueOutcome("queued")
        assert broker.queue_job_ids("elsewhere") == ["j1"]
        assert broker.registry_count(place(PlaceKind.DEFERRED, "elsewhere")) == 0
        assert broker.dependent_ids("gone1") == []

    def test_finished_dependencies_are_met(self, broker: Broker) -> None:
        _parent(broker, "p1", "finished")
        _parent(broker, "p2", "finished")
        assert enqueue(broker, "j1", depends_on=["p1", "p2"]).status == "queued"
        assert broker.queue_job_ids("default") == ["j1"]

    @pytest.mark.parametrize("status", UNFINISHED)
    def test_unfinished_dependency_defers_the_job(self, broker: Broker, status: str) -> None:
        _parent(broker, "p1", status)
        _parent(broker, "p2", "finished")
        assert enqueue(broker, "j1", depends_on=["p1", "p2"]).status == "deferred"
        assert broker.load_job_fields("j1", [STATUS]) == [b"deferred"]
        assert broker.registry_ids(place(PlaceKind.DEFERRED)) == ["j1"]
        assert broker.queue_length("default") == 0

    @pytest.mark.parametrize("status", ENDED_BADLY)
    def test_dependency_that_ended_badly_defers_the_job(self, broker: Broker, status: str) -> None:
        _parent(broker, "p1", status)
        assert enqueue(broker, "j1", depends_on=["p1"]).status == "deferred"
        assert broker.registry_ids(place(PlaceKind.DEFERRED)) == ["j1"]
        assert broker.registry_count(place(PlaceKind.CANCELED)) == 0
        assert broker.queue_length("default") == 0

    def test_a_failed_dependency_is_met_when_failure_is_allowed(self, broker: Broker) -> None:
        _parent(broker, "p1", "failed")
        fields = job_fields(**{ALLOW_FAILURE: b"1"})
        outcome = enqueue(broker, "j1", fields=fields, depends_on=["p1"], allow_failure=True)
        assert outcome.status == "queued"
        assert broker.queue_job_ids("default") == ["j1"]

    def test_a_record_without_a_status_is_an_unmet_dependency(self, broker: Broker) -> None:
        broker.save_job("p1", job_fields())
        assert enqueue(broker, "j1", depends_on=["p1"]).status == "deferred"

    def test_scheduled_job_waits_in_the_scheduled_registry(self, broker: Broker) -> None:
        assert enqueue(broker, "j1", scheduled_at=1234.5).status == "scheduled"
        assert broker.load_job_fields("j1", [STATUS]) == [b"scheduled"]
        assert broker.registry_score(place(PlaceKind.SCHEDULED), "j1") == 1234.5
        assert broker.queue_length("default") == 0

    def test_scheduled_job_with_met_dependencies_is_scheduled(self, broker: Broker) -> None:
        _parent(broker, "p1", "finished")
        assert enqueue(broker, "j1", depends_on=["p1"], scheduled_at=99.0).status == "scheduled"

    def test_unmet_dependencies_come_before_the_schedule(self, broker: Broker) -> None:
        _parent(broker, "p1", "queued")
        assert enqueue(broker, "j1", depends_on=["p1"], scheduled_at=99.0).status == "deferred"
        assert broker.registry_count(place(PlaceKind.SCHEDULED)) == 0

    def test_enqueue_replaces_an_earlier_record(self, broker: Broker) -> None:
        broker.save_job("j1", job_fields(stale=b"yes"))
        enqueue(broker, "j1")
        record = broker.load_job("j1")
        assert record is not None and "stale" not in record

    def test_enqueue_applies_the_record_ttl(self, broker: Broker) -> None:
        enqueue(broker, "kept")
        enqueue(broker, "brief", record_ttl=100)
        assert broker.job_ttl("kept") is None
        ttl = broker.job_ttl("brief")
        assert ttl is not None and 0 < ttl <= 100

    def test_enqueue_many_handles_requests_in_order(self, broker: Broker) -> None:
        enqueue(broker, "running")
        start_job(broker, "running")
        requests = [
            EnqueueRequest("first", "default", job_fields()),
            EnqueueRequest("second", "default", job_fields(), depends_on=["first"]),
            EnqueueRequest("third", "default", job_fields(), depends_on=["running"]),
            EnqueueRequest("fourth", "default", job_fields(), at_front=True),
        ]
        assert broker.enqueue_many(requests) == [
            EnqueueOutcome("queued"),
            EnqueueOutcome("deferred"),
            EnqueueOutcome("deferred"),
            EnqueueOutcome("queued"),
        ]
        assert broker.queue_job_ids("default") == ["fourth", "first"]
        assert broker.dependent_ids("first") == ["second"]
        assert broker.enqueue_many([]) == []


class ClaimContract:
    """Claim and claim_job: which job is taken, what it becomes, and what is skipped."""

    def test_claim_takes_the_oldest_job_and_starts_it(self, broker: Broker) -> None:
        enqueue(broker, "a")
        enqueue(broker, "b")
        claimed = broker.claim(["default"], {EXECUTION: b"e1", "worker": b"w1"}, 1000.0)
        expected = {**job_fields(), EXECUTION: b"e1", "worker": b"w1", STATUS: b"started"}
        assert claimed == Claimed("a", "default", expected)
        assert broker.load_job("a") == expected
        assert broker.queue_job_ids("default") == ["b"]
        assert broker.registry_score(place(PlaceKind.STARTED), "a") == 1000.0

    def test_claimed_status_is_started_whatever_the_fields_say(self, broker: Broker) -> None:
        enqueue(broker, "a")
        enqueue(broker, "b")
        claimed = broker.claim(["default"], {EXECUTION: b"e", STATUS: b"queued"}, LEASE)
        assert claimed is not None and claimed.record[STATUS] == b"started"
        record = broker.claim_job("b", "default", {EXECUTION: b"e", STATUS: b"queued"}, LEASE)
        assert record is not None and record[STATUS] == b"started"
        assert broker.load_jobs(["a", "b"]) == [claimed.record, record]

    def test_claim_is_first_in_first_out(self, broker: Broker) -> None:
        ids = [f"j{n}" for n in range(20)]
        for job_id in ids:
            enqueue(broker, job_id)
        claimed = [broker.claim(["default"], {EXECUTION: b"e"}, LEASE) for _ in ids]
        assert [c.job_id for c in claimed if c is not None] == ids

    def test_claim_tries_queues_in_the_order_given(self, broker: Broker) -> None:
        enqueue(broker, "in-low", "low")
        enqueue(broker, "in-high", "high")
        first = broker.claim(["empty", "high", "low"], {EXECUTION: b"e"}, LEASE)
        assert first is not None and (first.job_id, first.queue) == ("in-high", "high")
        enqueue(broker, "in-high-2", "high")
        second = broker.claim(["low", "high"], {EXECUTION: b"e"}, LEASE)
        assert second is not None and (second.job_id, second.queue) == ("in-low", "low")
        assert broker.registry_ids(place(PlaceKind.STARTED, "low")) == ["in-low"]

    def test_claim_from_empty_queues_returns_none_at_once(self, broker: Broker) -> None:
        assert broker.claim(["default", "other"], {EXECUTION: b"e"}, LEASE) is None
        assert broker.claim(["default"], {EXECUTION: b"e"}, LEASE, wait=0) is None

    def test_claim_with_wait_gives_up_when_the_time_is_up(self, broker: Broker) -> None:
        began = time.monotonic()
        assert broker.claim(["default"], {EXECUTION: b"e"}, LEASE, wait=0.3) is None
        assert time.monotonic() - began < 10

    def test_claim_drops_ids_whose_status_is_not_queued(self, broker: Broker) -> None:
        enqueue(broker, "canceled")
        enqueue(broker, "fine")
        broker.update_job("canceled", {STATUS: b"canceled"})
        claimed = broker.claim(["default"], {EXECUTION: b"e"}, LEASE)
        assert claimed is not None and claimed.job_id == "fine"
        assert broker.queue_length("default") == 0
        assert broker.load_job_fields("canceled", [STATUS]) == [b"canceled"]
        assert broker.registry_ids(place(PlaceKind.STARTED)) == ["fine"]

    @pytest.mark.parametrize("status", [b"weird", b"", None], ids=["unknown", "empty", "missing"])
    def test_claim_takes_a_corrupt_record_and_reports_its_status(
        self, broker: Broker, status: bytes | None
    ) -> None:
        enqueue(broker, "corrupt")
        enqueue(broker, "fine")
        record = broker.load_job("corrupt")
        assert record is not None
        del record[STATUS]
        if status is not None:
            record[STATUS] = status
        broker.save_job("corrupt", record)
        claimed = broker.claim(["default"], {EXECUTION: b"e"}, LEASE)
        # Not dropped (it would be in no place at all): claimed, so that the worker fails it.
        assert claimed is not None and claimed.job_id == "corrupt"
        assert claimed.prior_status == status
        assert broker.registry_ids(place(PlaceKind.STARTED)) == ["corrupt"]
        sound = broker.claim(["default"], {EXECUTION: b"e"}, LEASE)
        assert sound is not None and sound.prior_status == b"queued"

    def test_claim_drops_ids_whose_record_is_gone(self, broker: Broker) -> None:
        enqueue(broker, "deleted")
        enqueue(broker, "fine")
        broker.delete_job("deleted")
        claimed = broker.claim(["default"], {EXECUTION: b"e"}, LEASE)
        assert claimed is not None and claimed.job_id == "fine"
        assert broker.queue_length("default") == 0
        assert not broker.job_exists("deleted")

    def test_claim_skips_jobs_that_expired_while_queued(self, broker: Broker) -> None:
        enqueue(broker, "brief", record_ttl=1)
        enqueue(broker, "kept")
        assert wait_for(lambda: not broker.job_exists("brief"), timeout=30)
        assert broker.queue_length("default") == 2
        claimed = broker.claim(["default"], {EXECUTION: b"e"}, LEASE)
        assert claimed is not None and claimed.job_id == "kept"
        assert broker.queue_length("default") == 0

    def test_claimed_job_loses_its_expiry(self, broker: Broker) -> None:
        enqueue(broker, "j1", record_ttl=100)
        assert broker.claim(["default"], {EXECUTION: b"e"}, LEASE) is not None
        assert broker.job_ttl("j1") is None

    def test_claim_job_starts_the_job_given(self, broker: Broker) -> None:
        for job_id in ("a", "b", "c"):
            enqueue(broker, job_id, record_ttl=100)
        record = broker.claim_job("b", "default", {EXECUTION: b"e1"}, 77.0)
        assert record == {**job_fields(), EXECUTION: b"e1", STATUS: b"started"}
        assert broker.load_job("b") == record
        assert broker.queue_job_ids("default") == ["a", "c"]
        assert broker.registry_score(place(PlaceKind.STARTED), "b") == 77.0
        assert broker.job_ttl("b") is None

    def test_claim_job_refuses_a_job_that_is_not_queued(self, broker: Broker) -> None:
        """A job claimed (or ended) by someone else first is never started twice."""
        enqueue(broker, "j1")
        start_job(broker, "j1", execution="first")
        before = broker.load_job("j1")
        assert broker.claim_job("j1", "default", {EXECUTION: b"second"}, LEASE) is None
        assert broker.load_job("j1") == before
        broker.save_job("j2", job_fields())  # a record with no status at all
        assert broker.claim_job("j2", "default", {EXECUTION: b"e"}, LEASE) is None
        assert broker.registry_ids(place(PlaceKind.STARTED)) == ["j1"]

    def test_claim_job_without_a_record_is_refused(self, broker: Broker) -> None:
        assert broker.claim_job("nope", "default", {EXECUTION: b"e1"}, LEASE) is None
        assert broker.registry_count(place(PlaceKind.STARTED)) == 0
        assert not broker.job_exists("nope")

    def test_extend_lease_moves_the_deadline(self, broker: Broker) -> None:
        enqueue(broker, "j1")
        start_job(broker, "j1", execution="e1")
        assert broker.extend_lease("default", "j1", "e1", 123.0)
        assert broker.registry_score(place(PlaceKind.STARTED), "j1") == 123.0

    def test_extend_lease_of_a_stale_execution_is_refused(self, broker: Broker) -> None:
        enqueue(broker, "j1")
        start_job(broker, "j1", execution="e2")
        assert not broker.extend_lease("default", "j1", "e1", 123.0)
        assert broker.registry_score(place(PlaceKind.STARTED), "j1") == LEASE

    def test_extend_lease_of_a_job_not_started_is_refused(self, broker: Broker) -> None:
        broker.save_job("j1", job_fields(**{EXECUTION: b"e1"}))
        assert not broker.extend_lease("default", "j1", "e1", 123.0)
        assert broker.registry_score(place(PlaceKind.STARTED), "j1") is None
        assert not broker.extend_lease("default", "nope", "e1", 123.0)
        assert broker.registry_score(place(PlaceKind.STARTED), "nope") is None


class QueueContract:
    """Reading a queue (length, ranges, positions, names) and emptying or deleting it."""

    def test_unknown_queue_is_empty(self, broker: Broker) -> None:
        assert broker.queue_length("nope") == 0
        assert broker.queue_job_ids("nope") == []
        assert broker.queue_position("nope", "j1") is None

    def test_queue_ids_take_inclusive_ranges_counted_from_either_end(self, broker: Broker) -> None:
        for job_id in "abcde":
            enqueue(broker, job_id)
        assert broker.queue_length("default") == 5
        assert broker.queue_job_ids("default") == list("abcde")
        assert broker.queue_job_ids("default", 1, 2) == ["b", "c"]
        assert broker.queue_job_ids("default", -2, -1) == ["d", "e"]
        assert broker.queue_job_ids("default", 3, 100) == ["d", "e"]
        assert broker.queue_job_ids("default", 0, 0) == ["a"]
        assert broker.queue_job_ids("default", 4, 2) == []

    def test_queue_position_counts_from_zero(self, broker: Broker) -> None:
        for job_id in "abc":
            enqueue(broker, job_id)
        assert [broker.queue_position("default", job_id) for job_id in "abc"] == [0, 1, 2]
        assert broker.queue_position("default", "z") is None

    def test_place_counts_and_queue_heads_agree_with_one_call_per_place(self, broker: Broker) -> None:
        for job_id in "abc":
            enqueue(broker, job_id)
        enqueue(broker, "front", at_front=True)
        enqueue(broker, "x", "other")
        start_job(broker, "x", "other")
        places = [Place(kind, queue) for queue in ("default", "other", "nope") for kind in PlaceKind]
        singly = [broker.queue_length(p.queue) if p.is_queue else broker.registry_count(p) for p in places]
        assert broker.place_counts(places) == singly
        assert sum(singly) == 5
        assert broker.place_counts([]) == []
        assert broker.queue_heads(["default", "other", "nope"]) == ["front", None, None]
        assert broker.queue_heads([]) == []

    def test_empty_queue_deletes_its_jobs_and_counts_them(self, broker: Broker) -> None:
        for job_id in "abc":
            enqueue(broker, job_id)
        enqueue(broker, "other", "other")
        assert broker.empty_queue("default") == 3
        assert broker.queue_length("default") == 0
        assert broker.load_jobs(list("abc")) == [None, None, None]
        assert broker.queue_job_ids("other") == ["other"]

    def test_delete_queue_keeping_jobs_forgets_the_queue_only(self, broker: Broker) -> None:
        enqueue(broker, "a")
        enqueue(broker, "running")
        start_job(broker, "running")
        enqueue(broker, "x", "other")
        broker.delete_queue("default", delete_jobs=False)
        assert broker.queue_names() == ["other"]
        assert broker.queue_length("default") == 0
        assert broker.load_job_fields("a", [ORIGIN]) == [b"default"]
        assert broker.registry_ids(place(PlaceKind.STARTED)) == ["running"]

    def test_delete_queue_with_jobs_deletes_their_records(self, broker: Broker) -> None:
        enqueue(broker, "a")
        enqueue(broker, "b")
        broker.delete_queue("default", delete_jobs=True)
        assert broker.queue_names() == []
        assert broker.load_jobs(["a", "b"]) == [None, None]
