"""Contract tests for the dependents of a job that failed (the FAILED policy: those that do not
allow failure keep waiting for it) and of a job that will never run (the VANISHED policy: those
that do not allow failure are canceled, kept for their ``failure_ttl``, and the cancellation
cascades down the chain)."""

from __future__ import annotations

import math

from jq.broker import (
    ALLOW_FAILURE,
    PERSIST,
    STATUS,
    Broker,
    Cancellation,
    DependentsPolicy,
    Move,
    PlaceKind,
    RecordEdit,
    ResultEntry,
    Settlement,
    ToQueue,
    ToRegistry,
    Transition,
)
from jq.testing.helpers import ClaimInThread, end_job, enqueue, job_fields, place, start_job, wait_for

__all__ = ["CancellationContract", "DependentsListContract", "FailedParentContract"]

NOW = 1000.0
CANCELED_FIELDS = {"ended_at": b"then", STATUS: b"deferred"}


def _running(broker: Broker, job_id: str = "parent") -> None:
    enqueue(broker, job_id)
    start_job(broker, job_id)


def _deferred(
    broker: Broker, job_id: str, depends_on: list[str], queue: str = "default", /, **fields: bytes
) -> None:
    allow = fields.get(ALLOW_FAILURE) == b"1"
    outcome = enqueue(
        broker, job_id, queue, fields=job_fields(queue, **fields), depends_on=depends_on, allow_failure=allow
    )
    assert outcome.status == "deferred", outcome


def _fail(broker: Broker, job_id: str = "parent", *, default_failure_ttl: int = 100) -> None:
    """End the started job failed, its dependents settled as VANISHED (it will never run)."""
    assert end_job(
        broker,
        job_id,
        status="failed",
        policy=DependentsPolicy.VANISHED,
        canceled_fields=CANCELED_FIELDS,
        released_fields={"enqueued_at": b"now"},
        default_failure_ttl=default_failure_ttl,
        now=NOW,
    )


def _is_canceled(broker: Broker, job_id: str, queue: str = "default") -> bool:
    return (
        broker.load_job_fields(job_id, [STATUS]) == [b"canceled"]
        and broker.registry_score(place(PlaceKind.CANCELED, queue), job_id) is not None
        and broker.registry_score(place(PlaceKind.DEFERRED, queue), job_id) is None
    )


class CancellationContract:
    """VANISHED cancels every deferred dependent that does not allow failure, down the chain."""

    def test_failure_cancels_a_dependent_that_does_not_allow_it(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "child", ["parent"], "reports", failure_ttl=b"50")
        _fail(broker)
        record = broker.load_job("child")
        assert record is not None
        assert (record[STATUS], record["ended_at"]) == (b"canceled", b"then"), "status written last"
        assert "enqueued_at" not in record, "released fields are for released dependents"
        assert broker.registry_score(place(PlaceKind.CANCELED, "reports"), "child") == NOW + 50
        assert broker.registry_count(place(PlaceKind.DEFERRED, "reports")) == 0
        assert broker.registry_count(place(PlaceKind.CANCELED)) == 0, "its own origin's registry"
        ttl = broker.job_ttl("child")
        assert ttl is not None and 49 < ttl <= 50
        assert broker.queue_length("reports") == 0

    def test_failure_releases_tolerant_dependents_and_cancels_the_others(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "strict", ["parent"])
        _deferred(broker, "tolerant", ["parent"], **{ALLOW_FAILURE: b"1"})
        _fail(broker)
        assert broker.queue_job_ids("default") == ["tolerant"]
        assert broker.load_job_fields("tolerant", [STATUS, "enqueued_at"]) == [b"queued", b"now"]
        assert _is_canceled(broker, "strict")

    def test_default_failure_ttl_applies_without_a_field(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "child", ["parent"])
        _deferred(broker, "odd", ["parent"], failure_ttl=b"soon")
        _fail(broker, default_failure_ttl=30)
        for job_id in ("child", "odd"):
            assert broker.registry_score(place(PlaceKind.CANCELED), job_id) == NOW + 30
            ttl = broker.job_ttl(job_id)
            assert ttl is not None and 29 < ttl <= 30

    def test_negative_failure_ttl_keeps_the_canceled_dependent_forever(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "child", ["parent"], failure_ttl=b"-1")
        _deferred(broker, "child2", ["parent"])
        _fail(broker, default_failure_ttl=-1)
        for job_id in ("child", "child2"):
            assert broker.registry_score(place(PlaceKind.CANCELED), job_id) == math.inf
            assert broker.job_ttl(job_id) is None

    def test_zero_failure_ttl_deletes_the_canceled_dependent(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "child", ["parent"], failure_ttl=b"0")
        _deferred(broker, "grandchild", ["child"])
        _fail(broker)
        assert not broker.job_exists("child")
        assert broker.registry_count(place(PlaceKind.CANCELED)) == 1
        assert broker.registry_count(place(PlaceKind.DEFERRED)) == 0
        assert _is_canceled(broker, "grandchild"), "its dependents were settled before it went"
        assert broker.dependent_ids("child") == []

    def test_canceled_dependent_expires_with_its_results(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "child", ["parent"], failure_ttl=b"1")
        assert broker.transition(Transition("child", result=ResultEntry(b"earlier")))
        _fail(broker)
        assert broker.load_results("child") == [b"earlier"]
        assert wait_for(lambda: not broker.job_exists("child"), timeout=30)
        assert broker.load_results("child") == []

    def test_cancellation_cascades_two_levels_deep(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "child", ["parent"])
        _deferred(broker, "grandchild", ["child"], "other", failure_ttl=b"-1")
        _deferred(broker, "great-grandchild", ["grandchild"], failure_ttl=b"7")
        _fail(broker)
        assert _is_canceled(broker, "child")
        assert _is_canceled(broker, "grandchild", "other")
        assert _is_canceled(broker, "great-grandchild")
        assert broker.registry_score(place(PlaceKind.CANCELED, "other"), "grandchild") == math.inf
        assert broker.registry_score(place(PlaceKind.CANCELED), "great-grandchild") == NOW + 7
        assert broker.load_job_fields("great-grandchild", ["ended_at"]) == [b"then"]
        for job_id in ("parent", "child", "grandchild"):
            assert broker.dependent_ids(job_id) == [], job_id

    def test_a_long_chain_is_canceled_to_its_end(self, broker: Broker) -> None:
        _running(broker, "link-0")
        for n in range(1, 120):
            _deferred(broker, f"link-{n}", [f"link-{n - 1}"])
        _fail(broker, "link-0")
        assert broker.registry_count(place(PlaceKind.CANCELED)) == 119
        assert broker.registry_count(place(PlaceKind.DEFERRED)) == 0

    def test_tolerant_grandchild_of_a_canceled_child_is_released(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "child", ["parent"])
        _deferred(broker, "grandchild", ["child"], "other", **{ALLOW_FAILURE: b"1"})
        waiter = ClaimInThread(broker, ["other"], wait=30)
        _fail(broker)
        assert _is_canceled(broker, "child")
        claimed = waiter.result(timeout=10)
        assert claimed is not None and (claimed.job_id, claimed.queue) == ("grandchild", "other")
        assert broker.load_job_fields("grandchild", ["enqueued_at"]) == [b"now"]

    def test_tolerant_grandchild_still_waits_for_its_other_dependencies(self, broker: Broker) -> None:
        _running(broker)
        _running(broker, "other-parent")
        _deferred(broker, "child", ["parent"])
        _deferred(broker, "grandchild", ["child", "other-parent"], **{ALLOW_FAILURE: b"1"})
        _fail(broker)
        assert broker.load_job_fields("grandchild", [STATUS]) == [b"deferred"]
        assert broker.dependent_ids("child") == []
        assert end_job(broker, "other-parent")
        assert broker.queue_job_ids("default") == ["grandchild"]

    def test_a_dependent_not_deferred_is_not_canceled(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "child", ["parent"])
        broker.update_job("child", {STATUS: b"scheduled"})
        _fail(broker)
        assert broker.load_job_fields("child", [STATUS]) == [b"scheduled"]
        assert broker.registry_count(place(PlaceKind.CANCELED)) == 0
        assert broker.dependent_ids("parent") == []

    def test_canceled_dependent_is_not_released_by_its_other_dependency(self, broker: Broker) -> None:
        _running(broker)
        _running(broker, "other-parent")
        _deferred(broker, "child", ["parent", "other-parent"])
        _fail(broker)
        assert _is_canceled(broker, "child")
        assert end_job(broker, "other-parent")
        assert broker.load_job_fields("child", [STATUS]) == [b"canceled"]
        assert broker.queue_length("default") == 0
        assert broker.dependent_ids("other-parent") == []

    def test_a_job_canceled_under_vanished_cancels_its_dependents_too(self, broker: Broker) -> None:
        enqueue(broker, "parent")
        _deferred(broker, "child", ["parent"])
        cancel = Transition(
            "parent",
            Move(place(PlaceKind.QUEUE), ToRegistry(place(PlaceKind.CANCELED), math.inf)),
            RecordEdit({STATUS: b"canceled"}),
            settlement=Settlement(DependentsPolicy.VANISHED, Cancellation(CANCELED_FIELDS), NOW),
        )
        assert broker.transition(cancel)
        assert _is_canceled(broker, "child")

    def test_refused_failure_cancels_nothing(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "child", ["parent"])
        assert not end_job(
            broker, "parent", status="failed", policy=DependentsPolicy.VANISHED, execution="stale"
        )
        assert broker.load_job_fields("child", [STATUS]) == [b"deferred"]
        assert broker.dependent_ids("parent") == ["child"]


class FailedParentContract:
    """FAILED: dependents that allow failure stop waiting; the others keep waiting for the job, so
    that the job, requeued and finished, releases them (RQ's rule); NONE (a stopped or canceled
    job) releases nobody."""

    def test_a_failure_leaves_a_strict_dependent_waiting(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "strict", ["parent"], "reports")
        _deferred(broker, "tolerant", ["parent"], **{ALLOW_FAILURE: b"1"})
        assert end_job(broker, "parent", status="failed", released_fields={"enqueued_at": b"now"}, now=NOW)
        assert broker.queue_job_ids("default") == ["tolerant"]
        assert broker.load_job_fields("strict", [STATUS, "ended_at"]) == [b"deferred", None]
        assert broker.registry_ids(place(PlaceKind.DEFERRED, "reports")) == ["strict"]
        assert broker.registry_count(place(PlaceKind.CANCELED, "reports")) == 0
        assert broker.dependent_ids("parent") == ["strict"]

    def test_requeued_and_finished_the_job_releases_them(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "strict", ["parent"])
        _deferred(broker, "grandchild", ["strict"])
        assert end_job(broker, "parent", status="failed")
        requeue = Transition(
            "parent",
            Move(place(PlaceKind.FAILED), ToQueue("default")),
            RecordEdit({STATUS: b"queued"}, record_ttl=PERSIST),
        )
        assert broker.transition(requeue)
        assert broker.load_job_fields("strict", [STATUS]) == [b"deferred"]
        start_job(broker, "parent", execution="second")
        assert end_job(broker, "parent", released_fields={"enqueued_at": b"again"}, execution="second")
        assert broker.queue_job_ids("default") == ["strict"]
        assert broker.load_job_fields("strict", [STATUS, "enqueued_at"]) == [b"queued", b"again"]
        assert broker.load_job_fields("grandchild", [STATUS]) == [b"deferred"]
        assert broker.dependent_ids("parent") == []

    def test_the_waiting_dependents_expire_with_the_failed_job(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "strict", ["parent"])
        failed = Transition(
            "parent",
            Move(place(PlaceKind.STARTED), ToRegistry(place(PlaceKind.FAILED), NOW)),
            RecordEdit({STATUS: b"failed"}, record_ttl=1),
            settlement=Settlement(DependentsPolicy.FAILED),
        )
        assert broker.transition(failed)
        assert broker.dependent_ids("parent") == ["strict"]
        assert wait_for(lambda: not broker.job_exists("parent"), timeout=30)
        assert broker.dependent_ids("parent") == []
        settled = broker.settle_orphans(
            "default", released_fields={}, canceled_fields={}, default_failure_ttl=30, now=NOW
        )
        assert settled == ["strict"]
        assert _is_canceled(broker, "strict")

    def test_a_tolerant_dependent_still_waits_for_its_other_dependencies(self, broker: Broker) -> None:
        _running(broker)
        _running(broker, "other-parent")
        _deferred(broker, "tolerant", ["parent", "other-parent"], **{ALLOW_FAILURE: b"1"})
        assert end_job(broker, "parent", status="failed")
        assert broker.load_job_fields("tolerant", [STATUS]) == [b"deferred"]
        assert broker.dependent_ids("parent") == []
        assert end_job(broker, "other-parent")
        assert broker.queue_job_ids("default") == ["tolerant"]

    def test_a_dependent_no_longer_deferred_leaves_the_list(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "child", ["parent"])
        broker.update_job("child", {STATUS: b"canceled"})
        assert end_job(broker, "parent", status="failed")
        assert broker.dependent_ids("parent") == []
        assert broker.load_job_fields("child", [STATUS]) == [b"canceled"]

    def test_none_releases_nobody_not_even_a_tolerant_dependent(self, broker: Broker) -> None:
        _running(broker)
        _deferred(broker, "tolerant", ["parent"], **{ALLOW_FAILURE: b"1"})
        assert end_job(broker, "parent", status="stopped")
        assert broker.load_job_fields("tolerant", [STATUS]) == [b"deferred"]
        assert broker.dependent_ids("parent") == ["tolerant"]

    def test_a_canceled_job_releases_its_dependents_under_finished(self, broker: Broker) -> None:
        enqueue(broker, "parent")
        enqueue(broker, "other")
        _deferred(broker, "child", ["parent"])
        _deferred(broker, "waits", ["parent", "other"])
        cancel = Transition(
            "parent",
            Move(place(PlaceKind.QUEUE), ToRegistry(place(PlaceKind.CANCELED), math.inf)),
            RecordEdit({STATUS: b"canceled"}),
            settlement=Settlement(DependentsPolicy.FINISHED),
        )
        assert broker.transition(cancel)
        assert broker.queue_job_ids("default") == ["other", "child"]
        assert broker.load_job_fields("waits", [STATUS]) == [b"deferred"]
        assert broker.dependent_ids("other") == ["waits"]

    def test_leave_dependencies_takes_a_job_off_its_dependencies_lists(self, broker: Broker) -> None:
        enqueue(broker, "p1")
        enqueue(broker, "p2")
        _deferred(broker, "child", ["p1", "p2"])
        _deferred(broker, "sibling", ["p1"])
        cancel = Transition(
            "child",
            Move(place(PlaceKind.DEFERRED), ToRegistry(place(PlaceKind.CANCELED), math.inf)),
            RecordEdit({STATUS: b"canceled"}),
            leave_dependencies=True,
        )
        assert broker.transition(cancel)
        assert broker.dependent_ids("p1") == ["sibling"]
        assert broker.dependent_ids("p2") == []
        start_job(broker, "p1")
        assert end_job(broker, "p1")
        assert broker.queue_job_ids("default") == ["p2", "sibling"]
        assert broker.load_job_fields("child", [STATUS]) == [b"canceled"]

    def test_a_refused_leave_writes_nothing(self, broker: Broker) -> None:
        enqueue(broker, "p1")
        _deferred(broker, "child", ["p1"])
        cancel = Transition("child", Move(place(PlaceKind.QUEUE)), leave_dependencies=True)
        assert not broker.transition(cancel)
        assert broker.dependent_ids("p1") == ["child"]


class DependentsListContract:
    """Under FINISHED and VANISHED every dependent leaves the job's list of dependents; under
    FAILED, all but the deferred ones that do not allow failure."""

    def _family(self, broker: Broker) -> None:
        _running(broker)
        _running(broker, "other-parent")
        _deferred(broker, "waiting", ["parent"])
        _deferred(broker, "two-parents", ["parent", "other-parent"])
        _deferred(broker, "tolerant", ["parent"], **{ALLOW_FAILURE: b"1"})
        _deferred(broker, "moved-on", ["parent"])
        broker.update_job("moved-on", {STATUS: b"queued"})
        _deferred(broker, "deleted", ["parent"])
        broker.delete_job("deleted", [place(PlaceKind.DEFERRED)])
        assert broker.dependent_ids("parent") == ["deleted", "moved-on", "tolerant", "two-parents", "waiting"]

    def test_finishing_empties_the_list(self, broker: Broker) -> None:
        self._family(broker)
        assert end_job(broker, "parent")
        assert broker.dependent_ids("parent") == []
        assert sorted(broker.queue_job_ids("default")) == ["tolerant", "waiting"]
        assert broker.load_job_fields("two-parents", [STATUS]) == [b"deferred"]
        assert broker.dependent_ids("other-parent") == ["two-parents"]

    def test_failing_keeps_the_jobs_still_waiting(self, broker: Broker) -> None:
        self._family(broker)
        assert end_job(broker, "parent", status="failed")
        assert broker.dependent_ids("parent") == ["two-parents", "waiting"]
        assert broker.queue_job_ids("default") == ["tolerant"]
        assert broker.load_job_fields("waiting", [STATUS]) == [b"deferred"]
        assert broker.load_job_fields("moved-on", [STATUS]) == [b"queued"]
        assert not broker.job_exists("deleted")

    def test_vanishing_empties_the_list(self, broker: Broker) -> None:
        self._family(broker)
        _fail(broker)
        assert broker.dependent_ids("parent") == []
        assert broker.queue_job_ids("default") == ["tolerant"]
        assert _is_canceled(broker, "waiting")
        assert _is_canceled(broker, "two-parents")
        assert broker.load_job_fields("moved-on", [STATUS]) == [b"queued"]
        assert not broker.job_exists("deleted")
