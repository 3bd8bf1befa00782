"""Contract tests for enqueue's refusals, the replacement of an existing job, and jobs enqueued
behind dependencies that are unknown or ended without succeeding."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from jq.broker import (
    ALLOW_FAILURE,
    EXECUTION,
    PERSIST,
    STATUS,
    Broker,
    EnqueueOutcome,
    EnqueueRequest,
    Move,
    Place,
    PlaceKind,
    RecordEdit,
    RefusalReason,
    ToQueue,
    Transition,
)
from jq.testing.helpers import LEASE, end_job, enqueue, job_fields, place, start_job

__all__ = ["EndedDependencyContract", "EnqueueRefusalContract", "ReplacementContract"]

JOIN_TIMEOUT = 30.0
PENDING = ("queued", "deferred", "scheduled", "started")
ENDED = ("finished", "failed", "stopped", "canceled")


def _state(broker: Broker, ids: Sequence[str], queues: Sequence[str] = ("default",)) -> object:
    """Everything a refused enqueue could have written about these jobs and queues."""
    places = [
        [
            (job_id, broker.registry_score(place(kind, queue), job_id))
            for job_id in broker.registry_ids(place(kind, queue))
        ]
        for queue in queues
        for kind in PlaceKind
        if kind is not PlaceKind.QUEUE
    ]
    return (
        broker.load_jobs(ids),
        [broker.job_ttl(job_id) is not None for job_id in ids],
        [broker.load_results(job_id) for job_id in ids],
        [broker.dependent_ids(job_id) for job_id in ids],
        broker.queue_names(),
        [broker.queue_job_ids(queue) for queue in queues],
        places,
    )


def _marker_untouched(broker: Broker, name: str, value: float) -> None:
    """The marker ``name`` is below ``value`` (unset, or set lower): a request with it goes through."""
    outcome = enqueue(
        broker, f"marker-probe-{name}", "probes", fields=job_fields("probes"), once=(name, value)
    )
    assert outcome == EnqueueOutcome("queued"), f"marker {name!r} was set by a refused request"


def _job_with_status(broker: Broker, job_id: str, status: str) -> None:
    """A job of the default queue brought to ``status`` the way the core would get it there."""
    if status == "deferred":
        enqueue(broker, f"{job_id}-parent")
        enqueue(broker, job_id, depends_on=[f"{job_id}-parent"])
    elif status == "scheduled":
        enqueue(broker, job_id, scheduled_at=1234.0)
    else:
        enqueue(broker, job_id)
    if status in ("started", *ENDED):
        start_job(broker, job_id)
    if status in ENDED:
        assert end_job(broker, job_id, status=status)


def _race(broker: Broker, job_ids: Sequence[str], once: tuple[str, float]) -> list[EnqueueOutcome]:
    """Enqueue each job from its own thread, all released at once; the outcomes."""
    barrier = threading.Barrier(len(job_ids))
    outcomes: dict[str, EnqueueOutcome] = {}

    def fire(job_id: str) -> None:
        barrier.wait(JOIN_TIMEOUT)
        outcomes[job_id] = enqueue(broker, job_id, once=once)

    threads = [threading.Thread(target=fire, args=(job_id,), daemon=True) for job_id in job_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert len(outcomes) == len(job_ids), "a thread did not finish in time"
    return list(outcomes.values())


class EnqueueRefusalContract:
    """Refused requests (duplicate, already, cycle) say why and write nothing; a dependency that
    has no record is no reason to refuse."""

    def test_a_dependency_without_a_record_counts_as_met(self, broker: Broker) -> None:
        enqueue(broker, "present")
        outcome = enqueue(
            broker, "j1", "elsewhere", depends_on=["gone1", "present", "gone2", "gone1"], once=("m", 10)
        )
        assert outcome == EnqueueOutcome("deferred")
        assert broker.dependent_ids("present") == ["j1"]
        assert broker.dependent_ids("gone1") == broker.dependent_ids("gone2") == []
        assert enqueue(broker, "again", once=("m", 10)).reason is RefusalReason.ALREADY
        start_job(broker, "present")
        assert end_job(broker, "present")
        assert broker.queue_job_ids("elsewhere") == ["j1"]

    def test_a_job_whose_dependencies_are_all_unknown_is_queued(self, broker: Broker) -> None:
        assert enqueue(broker, "j1", depends_on=["gone"]) == EnqueueOutcome("queued")
        assert enqueue(broker, "j2", depends_on=["gone"], scheduled_at=50.0) == EnqueueOutcome("scheduled")
        assert broker.queue_job_ids("default") == ["j1"]
        assert broker.registry_count(place(PlaceKind.DEFERRED)) == 0

    @pytest.mark.parametrize("status", [*PENDING, *ENDED])
    def test_unique_refuses_while_a_job_with_the_id_exists(self, broker: Broker, status: str) -> None:
        _job_with_status(broker, "j1", status)
        ids = ["j1", "j1-parent"]
        before = _state(broker, ids)
        outcome = enqueue(broker, "j1", fields=job_fields(note=b"second"), unique=True, once=("m", 1))
        assert outcome == EnqueueOutcome(None, reason=RefusalReason.DUPLICATE)
        assert _state(broker, ids) == before
        _marker_untouched(broker, "m", 1)

    def test_unique_is_allowed_again_once_the_record_is_gone(self, broker: Broker) -> None:
        _job_with_status(broker, "j1", "finished")
        broker.delete_job("j1", [Place(PlaceKind.FINISHED, "default")])
        assert enqueue(broker, "j1", unique=True) == EnqueueOutcome("queued")
        assert broker.queue_job_ids("default") == ["j1"]
        assert enqueue(broker, "j1", unique=True).reason is RefusalReason.DUPLICATE

    def test_unique_without_an_earlier_job_goes_through(self, broker: Broker) -> None:
        assert enqueue(broker, "j1", unique=True) == EnqueueOutcome("queued")
        broker.save_job("j2", job_fields())  # a record with no status at all exists all the same
        assert enqueue(broker, "j2", unique=True).reason is RefusalReason.DUPLICATE

    def test_once_fires_once_per_value_and_again_for_a_higher_one(self, broker: Broker) -> None:
        assert enqueue(broker, "tick-5", once=("cron", 5)) == EnqueueOutcome("queued")
        before = _state(broker, ["tick-5", "again", "older"])
        assert enqueue(broker, "again", once=("cron", 5)) == EnqueueOutcome(
            None, reason=RefusalReason.ALREADY
        )
        assert enqueue(broker, "older", once=("cron", 4.5)).reason is RefusalReason.ALREADY
        assert _state(broker, ["tick-5", "again", "older"]) == before
        assert enqueue(broker, "tick-6", once=("cron", 6)) == EnqueueOutcome("queued")
        assert enqueue(broker, "other-marker", once=("hourly", 5)) == EnqueueOutcome("queued")
        assert broker.queue_job_ids("default") == ["tick-5", "tick-6", "other-marker"]

    def test_once_marker_is_set_whatever_the_job_becomes(self, broker: Broker) -> None:
        enqueue(broker, "parent")
        assert enqueue(broker, "deferred", depends_on=["parent"], once=("m", 1)).status == "deferred"
        assert enqueue(broker, "again", once=("m", 1)).reason is RefusalReason.ALREADY

    def test_once_with_the_same_value_from_two_threads_enqueues_exactly_one(self, broker: Broker) -> None:
        for tick in range(10):
            outcomes = _race(broker, [f"t{tick}-a", f"t{tick}-b"], ("cron", float(tick)))
            assert sorted(str(outcome.status) for outcome in outcomes) == ["None", "queued"], outcomes
            assert [o.reason for o in outcomes if o.status is None] == [RefusalReason.ALREADY]
        assert broker.queue_length("default") == 10

    def test_a_job_depending_on_itself_is_a_cycle(self, broker: Broker) -> None:
        enqueue(broker, "j1")
        before = _state(broker, ["j1"])
        assert enqueue(broker, "j1", depends_on=["j1"]) == EnqueueOutcome(None, reason=RefusalReason.CYCLE)
        assert _state(broker, ["j1"]) == before

    def test_cycle_through_two_levels_is_refused_and_writes_nothing(self, broker: Broker) -> None:
        enqueue(broker, "a")
        enqueue(broker, "b", depends_on=["a"])
        enqueue(broker, "c", depends_on=["b"])
        ids = ["a", "b", "c"]
        before = _state(broker, ids)
        outcome = enqueue(broker, "a", fields=job_fields(note=b"new"), depends_on=["c"], once=("m", 3))
        assert outcome == EnqueueOutcome(None, reason=RefusalReason.CYCLE)
        assert enqueue(broker, "a", depends_on=["b"]).reason is RefusalReason.CYCLE
        assert _state(broker, ids) == before
        _marker_untouched(broker, "m", 3)

    def test_a_path_that_does_not_come_back_is_no_cycle(self, broker: Broker) -> None:
        enqueue(broker, "a")
        enqueue(broker, "b", depends_on=["a"])
        enqueue(broker, "c", depends_on=["b"])
        assert enqueue(broker, "d", depends_on=["c", "b"]).status == "deferred"
        # Met dependencies leave no trail: once b is released, nothing leads from it to a.
        start_job(broker, "a")
        assert end_job(broker, "a")
        assert enqueue(broker, "a", depends_on=["b"]).status == "deferred"

    def test_an_unknown_dependency_does_not_hide_another_refusal(self, broker: Broker) -> None:
        enqueue(broker, "j1")
        outcome = enqueue(broker, "j1", depends_on=["gone", "j1"], unique=True)
        assert outcome == EnqueueOutcome(None, reason=RefusalReason.DUPLICATE)

    def test_enqueue_many_reports_each_refusal(self, broker: Broker) -> None:
        enqueue(broker, "pending")
        requests = [
            EnqueueRequest("first", "default", job_fields(), once=("m", 1)),
            EnqueueRequest("second", "default", job_fields(), once=("m", 1)),
            EnqueueRequest("pending", "default", job_fields(), unique=True),
            EnqueueRequest("third", "default", job_fields(), depends_on=["nope"]),
            EnqueueRequest("pending", "default", job_fields(), depends_on=["pending"]),
        ]
        assert broker.enqueue_many(requests) == [
            EnqueueOutcome(None, reason=RefusalReason.BATCH),
            EnqueueOutcome(None, reason=RefusalReason.ALREADY),
            EnqueueOutcome(None, reason=RefusalReason.DUPLICATE),
            EnqueueOutcome(None, reason=RefusalReason.BATCH),
            EnqueueOutcome(None, reason=RefusalReason.CYCLE),
        ]
        # All or nothing: the request that would have gone through wrote nothing either.
        assert broker.queue_job_ids("default") == ["pending"]
        assert broker.load_job("first") is None
        _marker_untouched(broker, "m", 1)


class ReplacementContract:
    """Enqueueing an id that has a record takes the old job out of its place first."""

    def test_requeue_of_a_queued_job_leaves_it_once_in_the_queue(self, broker: Broker) -> None:
        for job_id in ("a", "j1", "b"):
            enqueue(broker, job_id)
        assert enqueue(broker, "j1") == EnqueueOutcome("queued")
        assert broker.queue_job_ids("default") == ["a", "b", "j1"]
        claimed = [broker.claim(["default"], {EXECUTION: b"e"}, LEASE) for _ in range(4)]
        assert [c.job_id if c else None for c in claimed] == ["a", "b", "j1", None]

    @pytest.mark.parametrize("status", ("started", "deferred", "scheduled", *ENDED))
    def test_replacement_takes_the_id_out_of_the_place_its_status_names(
        self, broker: Broker, status: str
    ) -> None:
        _job_with_status(broker, "j1", status)
        assert enqueue(broker, "j1") == EnqueueOutcome("queued")
        for kind in PlaceKind:
            if kind is not PlaceKind.QUEUE:
                assert "j1" not in broker.registry_ids(place(kind)), kind
        assert broker.queue_job_ids("default").count("j1") == 1
        assert broker.load_job_fields("j1", [STATUS]) == [b"queued"]

    def test_replacement_of_a_failed_job_leaves_the_failed_registry(self, broker: Broker) -> None:
        _job_with_status(broker, "j1", "failed")
        assert broker.registry_ids(place(PlaceKind.FAILED)) == ["j1"]
        enqueue(broker, "j1", scheduled_at=50.0)
        assert broker.registry_count(place(PlaceKind.FAILED)) == 0
        assert broker.registry_ids(place(PlaceKind.SCHEDULED)) == ["j1"]

    def test_replaced_running_execution_can_no_longer_record_its_outcome(self, broker: Broker) -> None:
        enqueue(broker, "j1")
        start_job(broker, "j1", execution="old")
        assert enqueue(broker, "j1") == EnqueueOutcome("queued")
        assert broker.registry_count(place(PlaceKind.STARTED)) == 0
        assert not end_job(broker, "j1", execution="old")
        assert not broker.extend_lease("default", "j1", "old", LEASE)
        start_job(broker, "j1", execution="new")
        assert not end_job(broker, "j1", execution="old")
        assert broker.load_job_fields("j1", [STATUS, EXECUTION]) == [b"started", b"new"]
        assert end_job(broker, "j1", execution="new")

    def test_replacement_in_another_queue_leaves_the_old_origin(self, broker: Broker) -> None:
        enqueue(broker, "j1", "old")
        enqueue(broker, "keep", "old")
        assert enqueue(broker, "j1", "new", fields=job_fields("new")) == EnqueueOutcome("queued")
        assert broker.queue_job_ids("old") == ["keep"]
        assert broker.queue_job_ids("new") == ["j1"]
        assert broker.claim(["old", "new"], {EXECUTION: b"e"}, LEASE) is not None
        claimed = broker.claim(["old", "new"], {EXECUTION: b"e"}, LEASE)
        assert claimed is not None and (claimed.job_id, claimed.queue) == ("j1", "new")

    def test_replaced_job_keeps_its_dependents(self, broker: Broker) -> None:
        enqueue(broker, "parent")
        enqueue(broker, "child", depends_on=["parent"])
        assert enqueue(broker, "parent", fields=job_fields(note=b"second")) == EnqueueOutcome("queued")
        assert broker.dependent_ids("parent") == ["child"]
        assert broker.queue_job_ids("default") == ["parent"]
        start_job(broker, "parent")
        assert end_job(broker, "parent")
        assert broker.queue_job_ids("default") == ["child"]

    def test_replaced_deferred_job_waits_only_for_its_new_dependencies(self, broker: Broker) -> None:
        enqueue(broker, "p1")
        enqueue(broker, "p2")
        enqueue(broker, "j1", depends_on=["p1"])
        assert enqueue(broker, "j1", depends_on=["p2"]).status == "deferred"
        assert broker.dependent_ids("p1") == []
        assert broker.dependent_ids("p2") == ["j1"]
        assert broker.registry_ids(place(PlaceKind.DEFERRED)) == ["j1"]
        start_job(broker, "p1")
        assert end_job(broker, "p1")
        assert broker.load_job_fields("j1", [STATUS]) == [b"deferred"]
        start_job(broker, "p2")
        assert end_job(broker, "p2")
        assert broker.queue_job_ids("default") == ["j1"]


class EndedDependencyContract:
    """A job enqueued behind a dependency that failed, stopped or was canceled waits for it
    (deferred), as in RQ: only a failed dependency counts as met, and only for a job that allows
    failure. The dependency, requeued and finished, releases it."""

    @pytest.mark.parametrize("status", ["failed", "stopped", "canceled"])
    def test_a_job_waits_for_a_dependency_that_ended_badly(self, broker: Broker, status: str) -> None:
        _job_with_status(broker, "parent", status)
        assert enqueue(broker, "j1", depends_on=["parent"], record_ttl=100) == EnqueueOutcome("deferred")
        assert broker.registry_ids(place(PlaceKind.DEFERRED)) == ["j1"]
        assert broker.dependent_ids("parent") == ["j1"]
        assert "j1" not in broker.registry_ids(place(PlaceKind.CANCELED))
        ttl = broker.job_ttl("j1")
        assert ttl is not None and 0 < ttl <= 100

    @pytest.mark.parametrize(
        ("status", "expected"), [("failed", "queued"), ("stopped", "deferred"), ("canceled", "deferred")]
    )
    def test_allow_failure_counts_only_a_failed_dependency_as_met(
        self, broker: Broker, status: str, expected: str
    ) -> None:
        _job_with_status(broker, "parent", status)
        fields = job_fields(**{ALLOW_FAILURE: b"1"})
        outcome = enqueue(broker, "j1", fields=fields, depends_on=["parent"], allow_failure=True)
        assert outcome.status == expected

    def test_the_dependency_requeued_and_finished_releases_the_job(self, broker: Broker) -> None:
        _job_with_status(broker, "parent", "failed")
        enqueue(broker, "j1", depends_on=["parent"])
        requeue = Transition(
            "parent",
            Move(place(PlaceKind.FAILED), ToQueue("default")),
            RecordEdit({STATUS: b"queued"}, record_ttl=PERSIST),
        )
        assert broker.transition(requeue)
        start_job(broker, "parent", execution="again")
        assert end_job(broker, "parent", execution="again")
        assert broker.queue_job_ids("default") == ["j1"]
