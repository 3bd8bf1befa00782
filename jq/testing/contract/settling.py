"""Contract tests for how waiting jobs are settled beyond a parent's finish or failure: a delayed
dependent keeps its time, a deletion settles the dependents when asked, and dependents of a job
whose record vanished are settled by :meth:`~jq.broker.Broker.settle_orphans`."""

from __future__ import annotations

import math
import time
from dataclasses import replace

from jq.broker import (
    SCHEDULED_AT,
    STATUS,
    Broker,
    DependentsPolicy,
    Move,
    PlaceKind,
    RecordEdit,
    Settlement,
    ToRegistry,
    Transition,
)
from jq.defaults import DEFAULT_FAILURE_TTL
from jq.testing.helpers import end_job, enqueue, job_fields, place, start_job, wait_for

__all__ = ["DeleteSettlesDependentsContract", "OrphansContract", "ScheduledReleaseContract"]

QUEUE = place(PlaceKind.QUEUE)
DEFERRED = place(PlaceKind.DEFERRED)
SCHEDULED = place(PlaceKind.SCHEDULED)
CANCELED = place(PlaceKind.CANCELED)
RELEASED = {"enqueued_at": b"released"}
CANCELED_FIELDS = {"ended_at": b"canceled"}


def _status(broker: Broker, job_id: str) -> bytes | None:
    fields = broker.load_job_fields(job_id, [STATUS])
    return None if fields is None else fields[0]


def _tolerant(broker: Broker, job_id: str, *parents: str) -> None:
    outcome = enqueue(
        broker,
        job_id,
        fields=job_fields(allow_dependency_failures=b"1"),
        depends_on=parents,
        allow_failure=True,
    )
    assert outcome.status == "deferred"


class ScheduledReleaseContract:
    """A deferred job enqueued with ``scheduled_at`` is scheduled, not queued, when released before
    its time."""

    def _child(self, broker: Broker, scheduled_at: float, *, tolerant: bool = False) -> None:
        enqueue(broker, "parent")
        start_job(broker, "parent")
        fields = job_fields(allow_dependency_failures=b"1") if tolerant else job_fields()
        outcome = enqueue(
            broker,
            "child",
            fields=fields,
            depends_on=["parent"],
            scheduled_at=scheduled_at,
            allow_failure=tolerant,
        )
        assert outcome.status == "deferred"

    def test_enqueue_keeps_the_time_in_the_record(self, broker: Broker) -> None:
        self._child(broker, 1000.0)
        enqueue(broker, "plain", scheduled_at=1234.5)
        assert broker.load_job_fields("child", [SCHEDULED_AT]) == [b"1000.0"]
        assert broker.load_job_fields("plain", [SCHEDULED_AT]) == [b"1234.5"]

    def test_released_before_its_time_it_is_scheduled(self, broker: Broker) -> None:
        self._child(broker, 1000.0)
        assert end_job(broker, "parent", released_fields=RELEASED, now=500.0)
        assert broker.load_job_fields("child", [STATUS, "enqueued_at"]) == [b"scheduled", b"released"]
        assert broker.registry_score(SCHEDULED, "child") == 1000.0
        assert broker.queue_job_ids("default") == []
        assert broker.registry_count(DEFERRED) == 0
        assert broker.promote_scheduled("default", 999.0, {}) == []
        assert broker.promote_scheduled("default", 1000.0, {}) == ["child"]

    def test_released_at_or_after_its_time_it_is_queued(self, broker: Broker) -> None:
        self._child(broker, 1000.0)
        assert end_job(broker, "parent", now=1000.0)
        assert _status(broker, "child") == b"queued"
        assert broker.queue_job_ids("default") == ["child"]
        assert broker.registry_count(SCHEDULED) == 0

    def test_released_by_a_failure_it_allows_it_is_scheduled(self, broker: Broker) -> None:
        self._child(broker, 1000.0, tolerant=True)
        assert end_job(broker, "parent", status="failed", now=500.0)
        assert _status(broker, "child") == b"scheduled"

    def test_without_now_the_brokers_clock_decides(self, broker: Broker) -> None:
        self._child(broker, time.time() + 3600)
        change = Transition(
            "parent",
            Move(place(PlaceKind.STARTED), ToRegistry(place(PlaceKind.FINISHED), 0.0)),
            RecordEdit({STATUS: b"finished"}),
            settlement=Settlement(DependentsPolicy.FINISHED),
        )
        assert broker.transition(change)
        assert _status(broker, "child") == b"scheduled"
        enqueue(broker, "late", depends_on=["child"], scheduled_at=time.time() - 60)
        broker.promote_scheduled("default", time.time() + 7200, {})
        start_job(broker, "child")
        assert broker.transition(replace(change, job_id="child", move=Move(place(PlaceKind.STARTED))))
        assert _status(broker, "late") == b"queued"


class DeleteSettlesDependentsContract:
    """``delete_job`` with a dependents policy settles the waiting jobs in the same step; without
    one, they keep waiting (for :meth:`~jq.broker.Broker.settle_orphans`)."""

    def test_the_vanished_policy_releases_tolerant_dependents_and_cancels_the_others(
        self, broker: Broker
    ) -> None:
        enqueue(broker, "parent")
        enqueue(broker, "other")
        _tolerant(broker, "tolerant", "parent")
        _tolerant(broker, "waits", "parent", "other")
        enqueue(broker, "strict", depends_on=["parent"])
        enqueue(broker, "grandchild", depends_on=["strict"])
        assert broker.delete_job(
            "parent",
            [QUEUE],
            dependents=DependentsPolicy.VANISHED,
            released_fields=RELEASED,
            canceled_fields=CANCELED_FIELDS,
            default_failure_ttl=30,
            now=100.0,
        )
        assert broker.load_job("parent") is None
        assert broker.queue_job_ids("default") == ["other", "tolerant"]
        assert broker.load_job_fields("tolerant", [STATUS, "enqueued_at"]) == [b"queued", b"released"]
        assert broker.load_job_fields("strict", [STATUS, "ended_at"]) == [b"canceled", b"canceled"]
        assert _status(broker, "grandchild") == b"canceled"
        assert broker.registry_score(CANCELED, "strict") == 130.0
        assert _status(broker, "waits") == b"deferred"
        assert broker.dependent_ids("other") == ["waits"]
        assert broker.registry_ids(DEFERRED) == ["waits"]

    def test_the_default_failure_ttl_applies(self, broker: Broker) -> None:
        enqueue(broker, "parent")
        enqueue(broker, "strict", depends_on=["parent"])
        broker.delete_job("parent", [QUEUE], dependents=DependentsPolicy.VANISHED, now=100.0)
        assert broker.registry_score(CANCELED, "strict") == 100.0 + DEFAULT_FAILURE_TTL

    def test_a_missing_job_settles_nothing(self, broker: Broker) -> None:
        assert not broker.delete_job("ghost", [QUEUE], dependents=DependentsPolicy.VANISHED)
        assert broker.registry_count(CANCELED) == 0

    def test_without_a_policy_the_dependents_keep_waiting(self, broker: Broker) -> None:
        enqueue(broker, "parent")
        _tolerant(broker, "tolerant", "parent")
        enqueue(broker, "strict", depends_on=["parent"])
        assert broker.delete_job("parent", [QUEUE])
        assert _status(broker, "tolerant") == _status(broker, "strict") == b"deferred"
        assert sorted(broker.registry_ids(DEFERRED)) == ["strict", "tolerant"]
        assert broker.dependent_ids("parent") == []

    def test_a_job_deleted_while_started_settles_its_dependents(self, broker: Broker) -> None:
        enqueue(broker, "parent")
        start_job(broker, "parent")
        enqueue(broker, "strict", depends_on=["parent"])
        broker.delete_job("parent", [place(PlaceKind.STARTED)], dependents=DependentsPolicy.VANISHED)
        assert _status(broker, "strict") == b"canceled"
        assert broker.registry_count(place(PlaceKind.STARTED)) == 0


class OrphansContract:
    """``settle_orphans``: deferred jobs waiting for a job that has no record stop waiting."""

    def _settle(self, broker: Broker, queue: str = "default") -> list[str]:
        return broker.settle_orphans(
            queue,
            released_fields=RELEASED,
            canceled_fields=CANCELED_FIELDS,
            default_failure_ttl=30,
            now=100.0,
        )

    def test_dependents_of_a_vanished_job_are_settled_as_vanished(self, broker: Broker) -> None:
        enqueue(broker, "parent")
        enqueue(broker, "other")
        enqueue(broker, "strict", depends_on=["parent"])
        enqueue(broker, "grandchild", depends_on=["strict"])
        _tolerant(broker, "tolerant", "parent")
        _tolerant(broker, "waits", "parent", "other")
        enqueue(broker, "fine", depends_on=["other"])
        broker.delete_job("parent", [QUEUE])  # without settling its dependents
        assert sorted(self._settle(broker)) == ["strict", "tolerant", "waits"]
        assert broker.load_job_fields("strict", [STATUS, "ended_at"]) == [b"canceled", b"canceled"]
        assert broker.registry_score(CANCELED, "strict") == 130.0
        assert _status(broker, "grandchild") == b"canceled"
        assert broker.load_job_fields("tolerant", [STATUS, "enqueued_at"]) == [b"queued", b"released"]
        assert _status(broker, "waits") == b"deferred"
        assert sorted(broker.registry_ids(DEFERRED)) == ["fine", "waits"]
        # What is left waits for jobs that exist: nothing more to settle.
        assert self._settle(broker) == []
        start_job(broker, "other")
        assert end_job(broker, "other")
        first, *released = broker.queue_job_ids("default")
        assert first == "tolerant" and sorted(released) == ["fine", "waits"]

    def test_a_failed_parent_whose_record_expired(self, broker: Broker) -> None:
        enqueue(broker, "parent")
        start_job(broker, "parent")
        enqueue(broker, "child", depends_on=["parent"])
        _tolerant(broker, "tolerant", "parent")
        failed = Transition(
            "parent",
            Move(place(PlaceKind.STARTED), ToRegistry(place(PlaceKind.FAILED), 1.0)),
            RecordEdit({STATUS: b"stopped"}, record_ttl=1),
        )
        assert broker.transition(failed)
        assert self._settle(broker) == []
        assert wait_for(lambda: not broker.job_exists("parent"), timeout=30)
        assert sorted(self._settle(broker)) == ["child", "tolerant"]
        assert _status(broker, "child") == b"canceled"
        assert _status(broker, "tolerant") == b"queued"

    def test_a_parent_whose_record_expired(self, broker: Broker) -> None:
        enqueue(broker, "parent", record_ttl=1)
        enqueue(broker, "child", depends_on=["parent"])
        assert self._settle(broker) == []
        assert wait_for(lambda: not broker.job_exists("parent"), timeout=30)
        assert self._settle(broker) == ["child"]
        assert _status(broker, "child") == b"canceled"

    def test_a_canceled_orphan_with_a_zero_failure_ttl_is_not_kept(self, broker: Broker) -> None:
        enqueue(broker, "parent")
        enqueue(broker, "child", fields=job_fields(failure_ttl=b"0"), depends_on=["parent"])
        broker.delete_job("parent", [QUEUE])
        assert self._settle(broker) == ["child"]
        assert broker.load_job("child") is None
        assert broker.registry_count(CANCELED) == 0

    def test_ids_without_a_record_leave_the_registry(self, broker: Broker) -> None:
        broker.registry_add(DEFERRED, "ghost", 1.0)
        assert self._settle(broker) == []
        assert broker.registry_ids(DEFERRED) == []

    def test_only_the_queue_named_is_settled(self, broker: Broker) -> None:
        enqueue(broker, "parent")
        enqueue(broker, "child", "other", fields=job_fields("other"), depends_on=["parent"])
        broker.delete_job("parent", [QUEUE])
        assert self._settle(broker) == []
        assert self._settle(broker, "other") == ["child"]
        assert broker.registry_score(place(PlaceKind.CANCELED, "other"), "child") == 130.0

    def test_kept_forever_with_a_negative_failure_ttl(self, broker: Broker) -> None:
        enqueue(broker, "parent")
        enqueue(broker, "child", fields=job_fields(failure_ttl=b"-1"), depends_on=["parent"])
        broker.delete_job("parent", [QUEUE])
        assert self._settle(broker) == ["child"]
        assert broker.registry_score(CANCELED, "child") == math.inf
        assert broker.job_ttl("child") is None
